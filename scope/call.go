package scope

import (
	"context"
	"fmt"
)

// Call runs the application method of that name with the scope's handler (nc.call). It
// returns an error wrapping ErrNoMethod when the handler has none, and one wrapping
// ErrPanic when the method panics (the panic is logged with its stack).
func (s *Scope) Call(ctx context.Context, c Conn, method string, args []any) (result any, err error) {
	var m Method
	if err := s.g.hook(s, c, "Method", func() error { m = s.handler.Method(method); return nil }); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %q in %s", ErrNoMethod, method, s.path)
	}
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, s.g.recovered(s, c, "method", method, r)
		}
	}()
	result, err = m(ctx, c, s, args)
	if err != nil {
		return nil, err
	}
	return result, nil
}
