package client

import (
	"errors"
	"fmt"
	"testing"

	"github.com/corogo/corogo/internal/service"
)

func TestCheck(t *testing.T) {
	if err := Check("op", service.OK); err != nil {
		t.Errorf("Check(OK) = %v", err)
	}
	sentinels := []error{ErrTryAgain, ErrInvalidArg, ErrNotExist, ErrExist, ErrAccess, ErrNotSupported, ErrTooBig, ErrFailed}
	for _, tc := range []struct {
		st   service.Status
		want error
		name string
	}{
		{service.ErrTryAgain, ErrTryAgain, "CS_ERR_TRY_AGAIN"},
		{service.ErrBusy, ErrTryAgain, "CS_ERR_BUSY"},
		{service.ErrInvalidArg, ErrInvalidArg, "CS_ERR_INVALID_PARAM"},
		{service.ErrNotExist, ErrNotExist, "CS_ERR_NOT_EXIST"},
		{service.ErrExist, ErrExist, "CS_ERR_EXIST"},
		{service.ErrAccess, ErrAccess, "CS_ERR_ACCESS"},
		{service.ErrNotSupport, ErrNotSupported, "CS_ERR_NOT_SUPPORTED"},
		{service.ErrMsgTooBig, ErrTooBig, "CS_ERR_TOO_BIG"},
		{service.ErrNameTooLon, ErrTooBig, "CS_ERR_NAME_TOO_LONG"},
		{service.ErrLibrary, ErrFailed, "CS_ERR_LIBRARY"},
		{service.ErrTimeout, ErrFailed, "CS_ERR_TIMEOUT"},
		{service.Status(99), ErrFailed, "CS_ERR(99)"},
	} {
		err := fmt.Errorf("wrapped: %w", Check("cmap get x", tc.st))
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == tc.want) {
				t.Errorf("%v: errors.Is(%v) = %v", tc.st, s, got)
			}
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Status != tc.st || se.CSName() != tc.name {
			t.Errorf("%v: StatusError %+v, CSName %q; want %q", tc.st, se, se.CSName(), tc.name)
		}
	}
	if got := Check("cfg reload", service.ErrLibrary).Error(); got != "cfg reload: library error" {
		t.Errorf("Error() = %q", got)
	}
	if CSName(service.OK) != "success" {
		t.Errorf("CSName(OK) = %q", CSName(service.OK))
	}
}
