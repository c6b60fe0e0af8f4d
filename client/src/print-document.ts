import type { ASTNode, DocumentNode } from 'graphql';

/**
 * The text of a parsed executable document (operations and fragments), for documents without
 * their source (codegen's TypedDocumentNodes carry none). Compact, not pretty: the gateway
 * parses it again. Written here so that the client needs no `graphql` at run time.
 */
export function printDocument(document: DocumentNode): string {
  const body = document.loc?.source.body;
  return body ?? document.definitions.map(print).join('\n');
}

function print(node: ASTNode): string {
  switch (node.kind) {
    case 'OperationDefinition': {
      const variables = node.variableDefinitions?.length ? `(${node.variableDefinitions.map(print).join(', ')})` : '';
      return `${node.operation} ${node.name?.value ?? ''}${variables}${directives(node.directives)} ${print(node.selectionSet)}`;
    }
    case 'FragmentDefinition':
      return `fragment ${node.name.value} on ${node.typeCondition.name.value}${directives(node.directives)} ${print(node.selectionSet)}`;
    case 'VariableDefinition':
      return `$${node.variable.name.value}: ${print(node.type)}${node.defaultValue ? ` = ${print(node.defaultValue)}` : ''}${directives(node.directives)}`;
    case 'SelectionSet':
      return `{ ${node.selections.map(print).join(' ')} }`;
    case 'Field': {
      const args = node.arguments?.length ? `(${node.arguments.map(print).join(', ')})` : '';
      const selections = node.selectionSet ? ` ${print(node.selectionSet)}` : '';
      return `${node.alias ? `${node.alias.value}: ` : ''}${node.name.value}${args}${directives(node.directives)}${selections}`;
    }
    case 'FragmentSpread':
      return `...${node.name.value}${directives(node.directives)}`;
    case 'InlineFragment':
      return `...${node.typeCondition ? ` on ${node.typeCondition.name.value}` : ''}${directives(node.directives)} ${print(node.selectionSet)}`;
    case 'Argument':
    case 'ObjectField':
      return `${node.name.value}: ${print(node.value)}`;
    case 'Directive':
      return `@${node.name.value}${node.arguments?.length ? `(${node.arguments.map(print).join(', ')})` : ''}`;
    case 'NamedType':
      return node.name.value;
    case 'ListType':
      return `[${print(node.type)}]`;
    case 'NonNullType':
      return `${print(node.type)}!`;
    case 'Variable':
      return `$${node.name.value}`;
    case 'IntValue':
    case 'FloatValue':
    case 'EnumValue':
      return node.value;
    case 'StringValue':
      return JSON.stringify(node.value);
    case 'BooleanValue':
      return String(node.value);
    case 'NullValue':
      return 'null';
    case 'ListValue':
      return `[${node.values.map(print).join(', ')}]`;
    case 'ObjectValue':
      return `{${node.fields.map(print).join(', ')}}`;
    default:
      throw new TypeError(`Cannot print a ${node.kind} node: only executable documents are sent`);
  }
}

function directives(nodes: readonly ASTNode[] | undefined): string {
  return nodes?.length ? ` ${nodes.map(print).join(' ')}` : '';
}
