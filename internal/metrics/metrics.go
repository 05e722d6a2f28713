// Package metrics writes the Prometheus text exposition format (version
// 0.0.4) and serves it over HTTP. It has no registry: the daemon builds a
// fresh list of samples from its counters on every scrape, so there is no
// state to keep in step.
package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is a metric family's type.
type Type string

// Metric types.
const (
	Gauge   Type = "gauge"
	Counter Type = "counter"
)

// Label is one name="value" pair.
type Label struct{ Name, Value string }

// Sample is one value of a family.
type Sample struct {
	Labels []Label
	Value  float64
}

// Family is a named metric with its samples.
type Family struct {
	Name    string
	Help    string
	Type    Type
	Samples []Sample
}

// Set collects families while a scrape is built.
type Set struct{ fams []*Family }

// Add adds one sample to family name, creating the family on first use.
// Label pairs are given as name, value, name, value...
func (s *Set) Add(name, help string, t Type, v float64, labels ...string) {
	var f *Family
	for _, x := range s.fams {
		if x.Name == name {
			f = x
			break
		}
	}
	if f == nil {
		f = &Family{Name: name, Help: help, Type: t}
		s.fams = append(s.fams, f)
	}
	var ls []Label
	for i := 0; i+1 < len(labels); i += 2 {
		ls = append(ls, Label{labels[i], labels[i+1]})
	}
	f.Samples = append(f.Samples, Sample{Labels: ls, Value: v})
}

// Families returns the families sorted by name.
func (s *Set) Families() []*Family {
	out := slices.Clone(s.fams)
	slices.SortFunc(out, func(a, b *Family) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Write writes the families in the text exposition format.
func Write(w io.Writer, fams []*Family) error {
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		if f.Help != "" {
			fmt.Fprintf(bw, "# HELP %s %s\n", f.Name, escapeHelp(f.Help))
		}
		fmt.Fprintf(bw, "# TYPE %s %s\n", f.Name, f.Type)
		for _, s := range f.Samples {
			bw.WriteString(f.Name)
			if len(s.Labels) > 0 {
				bw.WriteByte('{')
				for i, l := range s.Labels {
					if i > 0 {
						bw.WriteByte(',')
					}
					fmt.Fprintf(bw, "%s=\"%s\"", l.Name, escapeValue(l.Value))
				}
				bw.WriteByte('}')
			}
			bw.WriteByte(' ')
			bw.WriteString(formatFloat(s.Value))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
var valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeValue(s string) string { return valueEscaper.Replace(s) }

// Serve serves GET /metrics on addr until ctx is done. collect builds the
// families of one scrape; it is called on the HTTP goroutine and must be
// safe for concurrent use.
func Serve(ctx context.Context, addr string, collect func() []*Family, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return ServeListener(ctx, ln, collect, log)
}

// ServeListener is Serve on a listener the caller opened.
func ServeListener(ctx context.Context, ln net.Listener, collect func() []*Family, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if err := Write(w, collect()); err != nil && log != nil {
			log.Debug("metrics: write failed", "err", err)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
