//go:build linux

package netns

import (
	"errors"
	"os"
	"runtime"
	"syscall"
)

const supported = true

// setnsTrap is the setns(2) system call number; package syscall is frozen
// and lacks it on some architectures (amd64 among them).
var setnsTrap = map[string]uintptr{
	"386": 346, "amd64": 308, "arm": 375, "arm64": 268, "loong64": 268,
	"mips": 4344, "mipsle": 4344, "mips64": 5303, "mips64le": 5303,
	"ppc64": 350, "ppc64le": 350, "riscv64": 268, "s390x": 339,
}

// setnsNet moves the calling OS thread into the network namespace open as
// fd.
func setnsNet(fd uintptr) error {
	trap, ok := setnsTrap[runtime.GOARCH]
	if !ok {
		return errors.New("setns: unknown system call number on " + runtime.GOARCH)
	}
	_, _, e := syscall.RawSyscall(trap, fd, syscall.CLONE_NEWNET, 0)
	if e != 0 {
		return e
	}
	return nil
}

// sameFile reports whether a and b are the same namespace (same device and
// inode).
func sameFile(a, b *os.File) (bool, error) {
	ai, err := a.Stat()
	if err != nil {
		return false, err
	}
	bi, err := b.Stat()
	if err != nil {
		return false, err
	}
	return os.SameFile(ai, bi), nil
}

// inNetns runs fn on a locked OS thread that has entered the network
// namespace bound at nsPath, then moves the thread back. Sockets created and
// processes forked by fn belong to that namespace for good. fn never runs in
// the namespace the thread started in: if nsPath names that one (the root
// namespace, say), inNetns refuses. If the thread cannot be moved back, it is
// left locked so that the runtime ends it with the goroutine.
func inNetns(nsPath string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored := false
		defer func() {
			if restored {
				runtime.UnlockOSThread()
			}
		}()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			restored = true
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			restored = true
			errc <- err
			return
		}
		defer target.Close()
		if same, err := sameFile(orig, target); err != nil || same {
			restored = true
			if err == nil {
				err = errors.New("refusing to act in the namespace of the test process")
			}
			errc <- err
			return
		}
		if err := setnsNet(target.Fd()); err != nil {
			restored = true
			errc <- err
			return
		}
		ferr := fn()
		if err := setnsNet(orig.Fd()); err != nil {
			errc <- errors.Join(ferr, err)
			return
		}
		restored = true
		errc <- ferr
	}()
	return <-errc
}

// procAttr returns the process attributes of a started program: it dies
// with the thread that forked it (so with the test process), and with
// privateMount it gets a mount namespace of its own with private propagation.
func procAttr(privateMount bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if privateMount {
		a.Unshareflags = syscall.CLONE_NEWNS
	}
	return a
}
