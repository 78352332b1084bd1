package program

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{fmt.Errorf("parse: %w", UsageError{"bad flag"}), 2},
		{errors.New("database down"), 1},
	} {
		if got := exitStatus("test", tc.err); got != tc.want {
			t.Errorf("exitStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestServeDrains: a request in flight when the context ends is answered
// before Serve returns, and stopping is called once before the drain.
func TestServeDrains(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		w.Write([]byte("done"))
	})}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := 0
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln, 5*time.Second, func() { stopped++ }) }()
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-started
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if code := <-answered; code != http.StatusOK || stopped != 1 {
		t.Errorf("in-flight request answered %d, stopping called %d times; want 200 and once", code, stopped)
	}
}

func TestOwnsRuntime(t *testing.T) {
	t.Parallel()
	if OwnsRuntime(context.Background()) || OwnsRuntime(t.Context()) {
		t.Error("a test's context owns the runtime")
	}
	ctx, cancel := context.WithCancel(processContext(context.Background()))
	defer cancel()
	if !OwnsRuntime(ctx) {
		t.Error("the context Main gives, and those made from it, do not own the runtime")
	}
}
