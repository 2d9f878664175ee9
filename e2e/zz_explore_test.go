package e2e

import (
	"context"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"testing"
	"time"
)

func TestExploreBrokerRestart(t *testing.T) {
	c := StartCluster(t, shoalBin, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	createIndex(ctx, t, c.Client, "x", 4, 2)
	loadSample(ctx, t, c.Client, "x")
	c.WaitReady(ctx, t)
	c.Broker.Kill(t)
	c.Broker.Start(t)
	start := time.Now()
	c.WaitBroker(ctx, t)
	t.Logf("broker up after %v", time.Since(start))
	for i := 0; i < 40; i++ {
		s := time.Now()
		err := c.Client.PutDoc(ctx, "x", "new-doc", map[string]any{"id": "new-doc", "title": "zebra"}, true)
		r := search(ctx, c.Client, "x", "http client", 2*time.Second, true)
		ok, st := c.Ready(ctx)
		p := false
		if r.res != nil {
			p = r.res.Partial
		}
		t.Logf("%v: put(wait_for) took %v err=%v; search err=%v partial=%v took %v; ready=%v %s", time.Since(start).Round(time.Millisecond), time.Since(s).Round(time.Millisecond), err, r.err, p, r.took.Round(time.Millisecond), ok, st)
		if err == nil && ok && r.err == nil && !p {
			break
		}
	}
}

func dumpConsumers(t *testing.T, url, stream string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Log(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Log(err)
		return
	}
	l := s.ListConsumers(ctx)
	for ci := range l.Info() {
		t.Logf("consumer %s filter %v created %v delivered %+v pending %d waiting %d ackpending %d cluster %+v", ci.Name, ci.Config.FilterSubjects, ci.Created.Format("15:04:05.000"), ci.Delivered, ci.NumPending, ci.NumWaiting, ci.NumAckPending, ci.Config.FilterSubject)
	}
	if err := l.Err(); err != nil {
		t.Log(err)
	}
}
