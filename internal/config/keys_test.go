package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestKeySettings(t *testing.T) {
	t.Parallel()
	type keys struct {
		Alg      string
		Delay    time.Duration
		Audience []string
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want keys
	}{
		{"defaults", nil, nil, keys{AlgHS256, 10 * time.Minute, nil}},
		{"EdDSA", map[string]string{"AUTHD_ACCESS_ALG": "EdDSA", "AUTHD_KEY_PUBLISH_DELAY": "30s"}, nil, keys{AlgEdDSA, 30 * time.Second, nil}},
		{"any case, no delay", map[string]string{"AUTHD_ACCESS_ALG": "eddsa", "AUTHD_KEY_PUBLISH_DELAY": "0"}, nil, keys{AlgEdDSA, 0, nil}},
		{"audiences", map[string]string{"AUTHD_AUDIENCE": " api , billing,"}, nil, keys{AlgHS256, 10 * time.Minute, []string{"api", "billing"}}},
		{"flags", map[string]string{"AUTHD_ACCESS_ALG": "EdDSA"}, []string{"--access-alg", "HS256", "--audience", "web"}, keys{AlgHS256, 10 * time.Minute, []string{"web"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tc.args, envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, keys{c.AccessAlg, c.KeyPublishDelay, c.Audience}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for env, v := range map[string]string{
		"AUTHD_ACCESS_ALG":        "RS256",
		"AUTHD_KEY_PUBLISH_DELAY": "-1m",
		"AUTHD_AUDIENCE":          "api,\xff",
	} {
		_, err := Load(nil, envOf(map[string]string{env: v}))
		if err == nil || !strings.HasPrefix(err.Error(), env+": ") {
			t.Errorf("%s=%q: err = %v, want one naming the variable", env, v, err)
		}
	}
	if _, err := Load(nil, envOf(map[string]string{"AUTHD_KEY_PUBLISH_DELAY": "soon"})); err == nil {
		t.Error("AUTHD_KEY_PUBLISH_DELAY=soon accepted")
	}
}
