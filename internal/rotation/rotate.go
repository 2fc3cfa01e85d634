package rotation

import (
	"context"
	"errors"
)

// Rotate runs the protocol once for req.Target.
func (e *Engine) Rotate(ctx context.Context, req Request) (*Result, error) {
	return nil, errors.New("rotation: not implemented yet")
}

// Plan reports what Rotate would do, changing nothing.
func (e *Engine) Plan(ctx context.Context, req Request) (*Plan, error) {
	return nil, errors.New("rotation: plan not implemented yet")
}
