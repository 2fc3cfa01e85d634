package audit

import "context"

type leaseKey struct{}

// WithLease returns ctx carrying l, the lease a rotation holds: a
// FencedRecorder records the rotation's events under it.
func WithLease(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, l)
}

// LeaseFrom is the lease ctx carries, if any.
func LeaseFrom(ctx context.Context) (Lease, bool) {
	l, ok := ctx.Value(leaseKey{}).(Lease)
	return l, ok
}

// FencedRecorder is a Recorder that records an event through the store's
// fenced write when the context carries a lease of the event's use case
// (WithLease), so that a rotation whose lease was taken records nothing over
// its successor (ErrLeaseLost); other events are recorded as they are.
type FencedRecorder struct {
	Store interface {
		Recorder
		FencedWriter
	}
}

// Record records e, fenced by the context's lease when it has one.
func (r FencedRecorder) Record(ctx context.Context, e Event) error {
	if l, ok := LeaseFrom(ctx); ok && l.UseCase == e.UseCase {
		return r.Store.RecordFenced(ctx, l, e)
	}
	return r.Store.Record(ctx, e)
}
