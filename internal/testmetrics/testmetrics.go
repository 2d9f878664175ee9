// Package testmetrics reads a Prometheus /metrics page the way Prometheus
// does (github.com/prometheus/common/expfmt's text parser) for tests that
// check that metric families exist and move. It is test support and is
// never linked into the shoal binary.
package testmetrics

import (
	"context"
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Fetch scrapes url (a /metrics page) and parses it.
func Fetch(ctx context.Context, url string) (Families, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	return Families(fams), nil
}

// Scrape is Fetch that fails the test on error.
func Scrape(t fataler, url string) Families {
	t.Helper()
	f, err := Fetch(context.Background(), url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return f
}

// fataler is what Scrape needs of a *testing.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Sum adds up the values of family name's series whose labels include
// every pair of labels (name, value, name, value...): a counter's or
// gauge's value, a histogram's count. A family or series that is absent
// counts 0.
func (f Families) Sum(name string, labels ...string) float64 {
	fam := f[name]
	if fam == nil {
		return 0
	}
	total := 0.0
	for _, m := range fam.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			total += m.Untyped.GetValue()
		}
	}
	return total
}

// Series counts family name's series whose labels include labels.
func (f Families) Series(name string, labels ...string) int {
	n := 0
	if fam := f[name]; fam != nil {
		for _, m := range fam.GetMetric() {
			if matches(m, labels) {
				n++
			}
		}
	}
	return n
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
