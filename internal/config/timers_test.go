package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/totem"
)

// nodes returns n node sections with ids 1..n.
func nodes(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(node(fmt.Sprintf("ring0_addr: 10.0.%d.%d", i/200, i%200+1), fmt.Sprintf("nodeid: %d", i)))
	}
	return b.String()
}

// corosyncTimers is exec/totemconfig.c's arithmetic, written out
// independently: C integer and floating point conversions, HZ = 100.
func corosyncTimers(token, coefficient, retransmits uint32, n int) (tok, retr, hold, cons uint32) {
	tok = token
	if n > 2 {
		tok += uint32(n-2) * coefficient
	}
	retr = uint32(int32(float64(tok) / (float64(retransmits) + 0.2)))
	hold = uint32(int32(float64(retr)*0.8 - 1000/100))
	cons = uint32(int32(float32(1.2 * float64(tok))))
	return
}

func TestEffectiveTimers(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		n                       int
		token, retr, hold, cons time.Duration
	}{
		{2, ms(3000), ms(714), ms(561), ms(3600)},
		{3, ms(3650), ms(869), ms(685), ms(4380)},
		{16, ms(12100), ms(2880), ms(2294), ms(14520)},
	} {
		c := mustRead(t, config("\ttransport: udpu\n", nodes(tc.n), ""))
		got := c.EffectiveTimers()
		if got.Token != tc.token || got.TokenRetransmit != tc.retr || got.Hold != tc.hold || got.Consensus != tc.cons {
			t.Errorf("%d nodes: %+v, want token %v retransmit %v hold %v consensus %v", tc.n, got, tc.token, tc.retr, tc.hold, tc.cons)
		}
		// The same as package totem computes from its own defaults.
		ref := totem.DefaultConfig(1, c.NodeIDs())
		if want := ref.EffectiveTimers(); got != want {
			t.Errorf("%d nodes: %+v, totem.DefaultConfig gives %+v", tc.n, got, want)
		}
		tc2, err := c.Totem(1)
		if err != nil {
			t.Fatal(err)
		}
		if tm := tc2.EffectiveTimers(); tm != got {
			t.Errorf("%d nodes: Totem().EffectiveTimers() = %+v, want %+v", tc.n, tm, got)
		}
		m, err := c.EffectiveMap(1)
		if err != nil {
			t.Fatal(err)
		}
		for key, d := range map[string]time.Duration{"token": tc.token, "consensus": tc.cons, "token_retransmit": tc.retr, "hold": tc.hold} {
			if v := m["runtime.config.totem."+key]; v.Type != TypeU32 || v.Uint != uint64(d.Milliseconds()) {
				t.Errorf("%d nodes: runtime.config.totem.%s = %+v, want %d", tc.n, key, v, d.Milliseconds())
			}
		}
	}
}

// TestTimerFormulas compares the derived timers with corosync's arithmetic
// over a range of settings.
func TestTimerFormulas(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 16, 32} {
		for _, token := range []uint32{300, 1000, 3000, 3001, 4999, 10000, 21200} {
			for _, coef := range []uint32{0, 650, 1000} {
				for _, retransmits := range []uint32{2, 4, 10} {
					text := config(fmt.Sprintf("\ttransport: udpu\n\ttoken: %d\n\ttoken_coefficient: %d\n\ttoken_retransmits_before_loss_const: %d\n", token, coef, retransmits), nodes(n), "")
					tok, retr, hold, cons := corosyncTimers(token, coef, retransmits, n)
					if retr < 30 || hold < 14 {
						if _, err := read(t, text); err == nil {
							t.Errorf("n=%d token=%d retransmits=%d: token_retransmit %d hold %d accepted", n, token, retransmits, retr, hold)
						}
						continue
					}
					c := mustRead(t, text)
					got := c.EffectiveTimers()
					if got.Token.Milliseconds() != int64(tok) || got.TokenRetransmit.Milliseconds() != int64(retr) ||
						got.Hold.Milliseconds() != int64(hold) || got.Consensus.Milliseconds() != int64(cons) {
						t.Errorf("n=%d token=%d coef=%d retransmits=%d: %+v, corosync %d/%d/%d/%d", n, token, coef, retransmits, got, tok, retr, hold, cons)
					}
				}
			}
		}
	}
}

func TestConfiguredTimers(t *testing.T) {
	c := mustRead(t, config("\ttransport: udpu\n\ttoken_retransmit: 500\n\thold: 300\n\tconsensus: 6000\n", nodes(3), ""))
	got := c.EffectiveTimers()
	if got.Token != 3650*time.Millisecond || got.TokenRetransmit != 500*time.Millisecond || got.Hold != 300*time.Millisecond || got.Consensus != 6*time.Second {
		t.Errorf("timers = %+v", got)
	}
}

func TestTotemConfig(t *testing.T) {
	c := mustRead(t, config("\ttransport: udpu\n\ttoken: 5000\n\tnetmtu: 9000\n\twindow_size: 100\n\tmax_messages: 20\n\tcancel_token_hold_on_retransmit: yes\n\tsend_join: 80\n", nodes(3), ""))
	tc, err := c.Totem(2)
	if err != nil {
		t.Fatal(err)
	}
	want := totem.DefaultConfig(2, []uint32{1, 2, 3})
	want.Token = 5 * time.Second
	want.NetMTU = 9000
	want.WindowSize = 100
	want.MaxMessages = 20
	want.CancelTokenHoldOnRetransmit = true
	want.SendJoin = 80 * time.Millisecond
	if fmt.Sprintf("%+v", tc) != fmt.Sprintf("%+v", want) {
		t.Errorf("Totem(2):\n got %+v\nwant %+v", tc, want)
	}
	if _, err := c.Totem(9); err == nil {
		t.Error("Totem(9) of an unknown node succeeded")
	}
}
