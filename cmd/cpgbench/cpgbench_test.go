package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"hash/fnv"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corogo/corogo/cpg/cpgtest"
)

// TestPayloadGolden: the bytes of a data message of 40 bytes, as
// cpgload.c lays them out (a struct hdr over a buffer filled with i*7),
// printed by a C program built from cpgload's definitions.
func TestPayloadGolden(t *testing.T) {
	b := newPayload(40)
	putHeader(b, header{Type: typeData, Seq: 0x0102030405060708, TS: 0x1112131415161718})
	const want = "c4e70bcb01000000080706050403020118171615141312110000000000000000e0e7eef5fc030a11"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	h, ok := parseHeader(b)
	if !ok || h != (header{Type: typeData, Seq: 0x0102030405060708, TS: 0x1112131415161718}) {
		t.Fatalf("parse: %+v %v", h, ok)
	}
	if _, ok := parseHeader(b[:31]); ok {
		t.Fatal("short message parsed")
	}
	b[0] ^= 1
	if _, ok := parseHeader(b); ok {
		t.Fatal("bad magic parsed")
	}
	if len(newPayload(8)) != headerSize {
		t.Fatal("payload smaller than the header")
	}
}

// delivery is one message as a receiver gets it.
type delivery struct {
	node, pid uint32
	data      []byte
}

func dataMsg(seq uint64) []byte {
	b := newPayload(40)
	putHeader(b, header{Type: typeData, Seq: seq})
	return b
}

func endMsg(sent uint64) []byte {
	b := make([]byte, headerSize)
	putHeader(b, header{Type: typeEnd, Seq: sent, Sent: sent})
	return b
}

// golden is a fixed sequence of deliveries; goldenHash is its hash as
// computed by a C program with cpgload's fnv() and deliver_fn folding.
var golden = []delivery{
	{1, 1000, dataMsg(0)},
	{2, 2000, dataMsg(0)},
	{1, 1000, dataMsg(1)},
	{3, 3000, []byte("short")},
	{2, 2000, endMsg(1)},
	{1, 1000, endMsg(2)},
}

const goldenHash = 0xee4ef74cdf7ef5c2

func TestHashGolden(t *testing.T) {
	st := newStats()
	if uint64(st.hash) != 0xcbf29ce484222325 {
		t.Fatalf("offset basis %x", uint64(st.hash))
	}
	// Independently: hash/fnv over the folded fields, little-endian.
	ref := fnv.New64a()
	for i, d := range golden {
		st.deliver(d.node, d.pid, d.data, int64(100+i))
		if h, ok := parseHeader(d.data); ok {
			var b [20]byte
			binary.LittleEndian.PutUint32(b[0:], d.node)
			binary.LittleEndian.PutUint32(b[4:], d.pid)
			binary.LittleEndian.PutUint64(b[8:], h.Seq)
			binary.LittleEndian.PutUint32(b[16:], h.Type)
			ref.Write(b[:])
		}
	}
	if uint64(st.hash) != goldenHash {
		t.Fatalf("hash %016x, want %016x", uint64(st.hash), uint64(goldenHash))
	}
	if ref.Sum64() != goldenHash {
		t.Fatalf("hash/fnv gives %016x", ref.Sum64())
	}
	if st.rxMsgs != 3 || st.rxBytes != 120 || st.ends != 2 || st.foreign != 1 || st.seqErrors != 0 || len(st.senders) != 2 {
		t.Fatalf("stats %+v", st)
	}
	if st.first != 100 || st.last != 102 || len(st.lat) != 3 {
		t.Fatalf("window %d..%d, %d samples", st.first, st.last, len(st.lat))
	}
}

func TestSeqErrors(t *testing.T) {
	st := newStats()
	for _, seq := range []uint64{0, 1, 3, 4, 4} {
		st.deliver(1, 1, dataMsg(seq), 0)
	}
	if st.seqErrors != 2 {
		t.Fatalf("seq errors %d, want 2 (a gap and a duplicate)", st.seqErrors)
	}
	// Senders beyond the 64th are hashed but not checked.
	st = newStats()
	for i := range maxSenders + 2 {
		st.deliver(1, uint32(i), dataMsg(5), 0)
	}
	if len(st.senders) != maxSenders || st.seqErrors != maxSenders {
		t.Fatalf("%d senders, %d errors", len(st.senders), st.seqErrors)
	}
}

func TestPercentiles(t *testing.T) {
	var lat []int64
	for i := 200; i >= 1; i-- {
		lat = append(lat, int64(i)*1000)
	}
	p50, p99, pmax := percentiles(lat)
	// cpgload: lat[n/2], lat[(n-1)*0.99], lat[n-1] of the sorted samples.
	if p50 != 101 || p99 != 198 || pmax != 200 {
		t.Fatalf("p50 %v p99 %v max %v", p50, p99, pmax)
	}
	if a, b, c := percentiles(nil); a != 0 || b != 0 || c != 0 {
		t.Fatal("percentiles of nothing")
	}
}

func TestResultLine(t *testing.T) {
	st := newStats()
	for i, d := range golden {
		st.deliver(d.node, d.pid, d.data, 1_000_000_000+int64(i)*250_000_000)
	}
	var b bytes.Buffer
	sm := summary{label: "x1", node: 2, send: true, size: 40, members: 3, sent: 2, tryagain: 7, sendSeconds: 0.5, cpuSeconds: 1.25}
	if err := writeResult(&b, st, sm); err != nil {
		t.Fatal(err)
	}
	// Latencies: now - ts with ts 0: 1.0 s, 1.25 s, 1.5 s.
	want := "RESULT msgs_per_s=6.0 mb_per_s=0.000 lat_p50_us=1250000.0 lat_p99_us=1250000.0 delivered=3 hash=ee4ef74cdf7ef5c2" +
		" label=x1 node=2 role=send size=40 guarantee=agreed members=3 senders_seen=2 ends=2 incomplete=0" +
		" rx_bytes=120 window_s=0.500 lat_n=3 lat_max_us=1500000.0 seq_errors=0 foreign=1" +
		" sent=2 send_s=0.500 send_rate=4.0 tryagain=7 cpu_s=1.250 rx_msgs=3 msg_per_s=6.0 MB_per_s=0.000\n"
	if b.String() != want {
		t.Fatalf("RESULT line\n got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	writeResult(&b, newStats(), summary{size: 64, incomplete: true, safe: true})
	want = "RESULT msgs_per_s=0.0 mb_per_s=0.000 lat_p50_us=0.0 lat_p99_us=0.0 delivered=0 hash=cbf29ce484222325" +
		" label= node=0 role=recv size=64 guarantee=safe members=0 senders_seen=0 ends=0 incomplete=1" +
		" rx_bytes=0 window_s=0.000 lat_n=0 lat_max_us=0.0 seq_errors=0 foreign=0 cpu_s=0.000 rx_msgs=0 msg_per_s=0.0 MB_per_s=0.000\n"
	if b.String() != want {
		t.Fatalf("RESULT line\n got %q\nwant %q", b.String(), want)
	}
}

// fields parses a RESULT line as the baseline's summarize.py does.
func fields(t *testing.T, out string) map[string]string {
	t.Helper()
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "RESULT ") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no RESULT line in %q", out)
	}
	m := map[string]string{}
	for _, kv := range regexp.MustCompile(`(\w+)=(\S*)`).FindAllStringSubmatch(line, -1) {
		m[kv[1]] = kv[2]
	}
	return m
}

type instance struct {
	out, errOut bytes.Buffer
	err         error
}

// runAll runs cpgbench instances concurrently, each with its arguments.
func runAll(t *testing.T, args ...[]string) []*instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := make([]*instance, len(args))
	var wg sync.WaitGroup
	for i, a := range args {
		out[i] = &instance{}
		wg.Go(func() { out[i].err = run(ctx, a, &out[i].out, &out[i].errOut) })
	}
	wg.Wait()
	return out
}

// TestEndToEnd: a sender and a receiver in one process, on the fake
// daemon: both see the 200 messages and the END marker in the same order.
func TestEndToEnd(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{NodeID: 4, QueueLimit: 16})
	common := []string{"-socket", s.Socket(), "-members", "2", "-senders", "1", "-group", "e2e", "-timeout", "30s"}
	res := runAll(t,
		append([]string{"-send", "-count", "200", "-duration", "20s", "-size", "100", "-pid", "101", "-label", "e2e"}, common...),
		append([]string{"-pid", "102", "-label", "e2e"}, common...),
	)
	var hashes []string
	for i, r := range res {
		if r.err != nil {
			t.Fatalf("instance %d: %v\n%s", i, r.err, r.errOut.String())
		}
		f := fields(t, r.out.String())
		for k, v := range map[string]string{
			"delivered": "200", "rx_bytes": "20000", "ends": "1", "incomplete": "0", "seq_errors": "0",
			"foreign": "0", "senders_seen": "1", "members": "2", "node": "4", "label": "e2e",
		} {
			if f[k] != v {
				t.Errorf("instance %d: %s=%s, want %s\n%s", i, k, f[k], v, r.out.String())
			}
		}
		hashes = append(hashes, f["hash"])
		if i == 0 && (f["role"] != "send" || f["sent"] != "200" || f["size"] != "100") {
			t.Errorf("sender: %s", r.out.String())
		}
		if i == 1 && (f["role"] != "recv" || f["sent"] != "") {
			t.Errorf("receiver: %s", r.out.String())
		}
	}
	// The expected hash: the chain over 200 data messages and the END
	// marker from node 4, pid 101.
	st := newStats()
	for seq := range uint64(200) {
		st.deliver(4, 101, dataMsg(seq), 0)
	}
	st.deliver(4, 101, endMsg(200), 0)
	want := strings.TrimPrefix(strings.Fields(resultOf(t, st))[6], "hash=")
	if hashes[0] != hashes[1] || hashes[0] != want {
		t.Fatalf("hashes %v, want %s", hashes, want)
	}
}

func resultOf(t *testing.T, st *stats) string {
	t.Helper()
	var b bytes.Buffer
	if err := writeResult(&b, st, summary{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestPaced: -rate paces the sender; safe delivery works.
func TestPaced(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{})
	res := runAll(t, []string{"-socket", s.Socket(), "-members", "1", "-send", "-rate", "200", "-duration", "300ms", "-safe"})
	if res[0].err != nil {
		t.Fatalf("%v\n%s", res[0].err, res[0].errOut.String())
	}
	f := fields(t, res[0].out.String())
	if f["guarantee"] != "safe" || f["seq_errors"] != "0" || f["incomplete"] != "0" {
		t.Fatalf("%s", res[0].out.String())
	}
	// 200/s for 0.3 s: about 60 messages.
	if n := f["delivered"]; len(n) != 2 || n < "40" || n > "70" {
		t.Fatalf("delivered %s messages", n)
	}
}

func TestExitCodes(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{})
	// The members never arrive.
	res := runAll(t, []string{"-socket", s.Socket(), "-members", "2", "-timeout", "200ms"})
	if code := exitCode(res[0].err); code != exitNoMembers || res[0].out.Len() != 0 {
		t.Fatalf("no members: code %d, %v, %q", code, res[0].err, res[0].out.String())
	}
	// No sender: the END marker never comes.
	res = runAll(t, []string{"-socket", s.Socket(), "-members", "1", "-timeout", "200ms"})
	if code := exitCode(res[0].err); code != exitIncomplete {
		t.Fatalf("incomplete: code %d, %v", code, res[0].err)
	}
	if f := fields(t, res[0].out.String()); f["incomplete"] != "1" || f["role"] != "recv" {
		t.Fatalf("incomplete: %s", res[0].out.String())
	}
	// No daemon.
	res = runAll(t, []string{"-socket", t.TempDir() + "/none", "-timeout", "300ms"})
	if code := exitCode(res[0].err); code != exitError {
		t.Fatalf("no daemon: code %d, %v", code, res[0].err)
	}
	// Usage.
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, &errOut); err != flag.ErrHelp || exitCode(err) != 0 {
		t.Fatalf("-h: %v", err)
	}
	if !strings.Contains(errOut.String(), "-members N") {
		t.Fatalf("usage: %s", errOut.String())
	}
	for _, args := range [][]string{{"-nosuch"}, {"-members", "0"}, {"-duration", "0s"}, {"extra"}} {
		if err := run(context.Background(), args, &out, &errOut); exitCode(err) != exitError {
			t.Errorf("%q: %v", args, err)
		}
	}
	// A size above the daemon's maximum.
	small := cpgtest.New(t, cpgtest.Options{MaxMessage: 1000})
	res = runAll(t, []string{"-socket", small.Socket(), "-members", "1", "-send", "-size", "1001", "-timeout", "2s"})
	if exitCode(res[0].err) != exitError || !strings.Contains(res[0].err.Error(), "maximum of 1000") {
		t.Fatalf("too big: %v", res[0].err)
	}
}
