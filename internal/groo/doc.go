// Package groo is the client of the Groo Accounts API as docs/groo-api.md
// describes it: who a token belongs to (Me), the caller's Personal Access
// Tokens (List), minting one (Create) and revoking one (Revoke).
//
// Three things shape it:
//
//   - A token value is a secret. Token redacts itself wherever it is printed,
//     logged or marshalled; the client sends it only as the session cookie and
//     never puts it, or a request header, in an error or a log line. Anything
//     that is not a well-formed PAT is refused before a request is made.
//   - Groo publishes no reference for these routes, so every path and field
//     name lives in routes.go: adapting to the live service is a one-file change.
//   - A mint is not idempotent. GET and DELETE are retried on 5xx, 429,
//     timeouts and transport errors; POST only when the server provably did
//     not act (429, or no connection was made). Any other failure of a mint is
//     an *OutcomeUnknownError: the token may exist, and the caller cleans up by
//     what it put in the description.
package groo
