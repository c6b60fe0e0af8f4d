import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Refuses introspection (`__schema`, `__type`) as a validation error, over HTTP and WebSocket
 * alike. @graphql-yoga/plugin-disable-introspection marks requests in onRequestParse, which the
 * WebSocket endpoint never calls, so it would leave introspection open there.
 */
export function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
