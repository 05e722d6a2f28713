package ringid

import (
	"os"
	"testing"
)

func TestLoadCreatesZeroThenRoundTrips(t *testing.T) {
	dir := t.TempDir()
	seq, ok, err := Load(dir, 7)
	if err != nil || ok || seq != 0 {
		t.Fatalf("first Load = %d, %v, %v; want 0, false, nil", seq, ok, err)
	}
	b, err := os.ReadFile(Path(dir, 7))
	if err != nil || len(b) != 8 {
		t.Fatalf("file not created as 8 bytes: %v %d", err, len(b))
	}
	if err := Store(dir, 7, 0x1d); err != nil {
		t.Fatal(err)
	}
	seq, ok, err = Load(dir, 7)
	if err != nil || !ok || seq != 0x1d {
		t.Fatalf("Load = %d, %v, %v; want 0x1d, true, nil", seq, ok, err)
	}
}

func TestShortFileReadsAsAbsent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(Path(dir, 1), []byte{1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	seq, ok, err := Load(dir, 1)
	if err != nil || ok || seq != 0 {
		t.Fatalf("Load = %d, %v, %v", seq, ok, err)
	}
}

func TestUnreadableDirIsAnError(t *testing.T) {
	if err := Store("/nonexistent/dir", 1, 5); err == nil {
		t.Fatal("Store into a missing directory succeeded")
	}
}
