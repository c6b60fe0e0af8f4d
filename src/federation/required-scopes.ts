import { parse, visit } from 'graphql';

/** Every scope a `@requiresScopes` of a supergraph names. */
export function scopesRequiredIn(supergraphSdl: string): string[] {
  const scopes = new Set<string>();
  visit(parse(supergraphSdl, { noLocation: true }), {
    Directive(directive) {
      if (directive.name.value !== 'requiresScopes') return;
      visit(directive, {
        StringValue(value) {
          scopes.add(value.value);
        },
      });
    },
  });
  return [...scopes];
}
