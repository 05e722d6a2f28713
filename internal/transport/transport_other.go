//go:build !linux

package transport

import "fmt"

// New needs Linux (sendmmsg, recvmmsg, epoll); elsewhere it fails.
func New(cfg Config) (Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s needs Linux", ErrUnsupported, cfg.Kind)
}
