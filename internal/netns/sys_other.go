//go:build !linux

package netns

import (
	"errors"
	"syscall"
)

const supported = false

var errNotLinux = errors.New("network namespaces need Linux")

func inNetns(string, func() error) error { return errNotLinux }

func procAttr(bool) *syscall.SysProcAttr { return nil }
