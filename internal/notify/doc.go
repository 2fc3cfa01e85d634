// Package notify tells a person when the daemon's liveness is threatened
// (DESIGN.md L3): a target whose rotations keep failing, a secret's token
// about to expire with no successful rotation, a replaced token whose revoke
// is stuck, the daemon's own Groo credential about to expire; and, once,
// when such a condition clears.
//
// The daemon gathers facts; Evaluate (pure) turns them into the set of
// conditions true now; Notifier.Observe takes that whole set after every
// rotation, sweep or tick and diffs it against what it already sent:
//
//   - a new condition (by Condition.Key: kind, target, use case) is sent
//     once to every webhook;
//   - a condition still present sends nothing, however often it is
//     observed, so there is no storm;
//   - a condition gone sends "recovered" once, to the webhooks that got its
//     alarm (an alarm never sent has no recovery);
//   - with several replicas, a Claimer (the daemon's store; MemoryClaimer
//     for one process) lets exactly one of them send each occurrence, named
//     by kind, target, use case and Condition.Since.
//
// Delivery runs on one goroutine behind a bounded queue, so a slow or dead
// webhook never blocks Observe. Each delivery round POSTs (Content-Type
// application/json) up to Options.Attempts times, retrying transport
// errors, 5xx and 429 with capped exponential backoff and jitter; another
// status (4xx, or a redirect, which is never followed) is final and logged
// once. A round that fails leaves the notification pending: the next
// Observe queues it again, no sooner than Options.RetryLater (doubling per
// failed round, at most an hour) after the failure, until it is delivered
// or its condition clears. Close drains the queue until its context ends.
//
// Webhook URLs are credentials: they come resolved from the caller (url-env,
// url-file), and this package prints them as scheme://host only
// (RedactURL), in logs and errors alike. Every text that goes into a body
// (target, use case, message) goes through safetext.Redact and is made one
// line (control characters escaped) and cut; logs go through
// safetext.NewHandler.
package notify
