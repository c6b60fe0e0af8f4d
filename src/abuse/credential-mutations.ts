import { type DocumentNode, type FieldNode, type FragmentDefinitionNode, getOperationAST, Kind, type SelectionSetNode } from 'graphql';

/** The credential mutation fields an operation selects. */
export interface CredentialMutationTally {
  /** How many times credential mutation fields occur (aliases and repetitions each count). */
  readonly count: number;
  /** Which credential mutations occur. */
  readonly names: ReadonlySet<string>;
  /** The first occurrence, whose arguments a limit may be keyed by. */
  readonly field?: FieldNode;
}

const NONE: CredentialMutationTally = Object.freeze({ count: 0, names: new Set<string>() });

/**
 * Tallies the fields of `credentialMutations` (the limited mutations, limited-mutations.ts) in
 * the operation to execute: every occurrence, under an
 * alias, repeated, or inside fragments and inline fragments. Fields under @skip or @include
 * count whatever the condition: the tally may be higher than what runs, never lower. Nothing
 * for queries and subscriptions.
 */
export function tallyCredentialMutations(
  document: DocumentNode,
  operationName: string | null | undefined,
  credentialMutations: ReadonlySet<string>,
): CredentialMutationTally {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'mutation') return NONE;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  // Each fragment is tallied once: a fragment spread twice in each of many nested fragments
  // would otherwise cost an exponential walk.
  const tallied = new Map<string, CredentialMutationTally>();

  const tally = (selectionSet: SelectionSetNode): CredentialMutationTally => {
    let count = 0;
    const names = new Set<string>();
    let field: FieldNode | undefined;
    const add = (part: CredentialMutationTally) => {
      count += part.count;
      for (const name of part.names) names.add(name);
      field ??= part.field;
    };
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (credentialMutations.has(selection.name.value)) add({ count: 1, names: new Set([selection.name.value]), field: selection });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        add(tally(selection.selectionSet));
      } else {
        add(fragmentTally(selection.name.value));
      }
    }
    return { count, names, field };
  };

  const fragmentTally = (name: string): CredentialMutationTally => {
    const known = tallied.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    // Validation refuses fragment cycles before execution; marking the fragment first only keeps
    // a document that skipped validation from looping.
    tallied.set(name, NONE);
    const result = fragment ? tally(fragment.selectionSet) : NONE;
    tallied.set(name, result);
    return result;
  };

  return tally(operation.selectionSet);
}
