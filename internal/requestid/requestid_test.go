package requestid

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestHandlerAddsTheContextsID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil)))
	if _, ok := Handler(log.Handler()).(handler); !ok {
		t.Fatal("Handler of a Handler is not one")
	}
	log.InfoContext(NewContext(context.Background(), "req-1"), "with", "k", "v")
	log.InfoContext(context.Background(), "without")

	dec := json.NewDecoder(&buf)
	for _, want := range []struct {
		msg, id string
		has     bool
	}{{"with", "req-1", true}, {"without", "", false}} {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("decode %s: %v", want.msg, err)
		}
		id, has := rec["request_id"]
		if rec["msg"] != want.msg || has != want.has || (has && id != want.id) {
			t.Errorf("record %v: want msg %q with request_id %q (present: %v)", rec, want.msg, want.id, want.has)
		}
	}
}
