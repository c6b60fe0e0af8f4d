import { type DocumentNode, type FieldNode, getArgumentValues, type GraphQLSchema, getOperationAST, getVariableValues } from 'graphql';

/**
 * The argument values of one mutation field of an operation, as its resolver will see them:
 * variables coerced by the operation's definitions, defaults applied. Undefined when the
 * variables do not coerce or the field is unknown: execution refuses such an operation itself,
 * and it must count against nothing.
 */
export function mutationArguments(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  field: FieldNode,
  rawVariables: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> | undefined {
  const operation = getOperationAST(document, operationName);
  const definition = schema.getMutationType()?.getFields()[field.name.value];
  if (!operation || !definition) return undefined;
  const variables = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  if (variables.errors) return undefined;
  try {
    return getArgumentValues(definition, field, variables.coerced);
  } catch {
    // An argument that does not coerce: refused at execution as well.
    return undefined;
  }
}
