package config

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/throttle"
)

func TestSessionSettings(t *testing.T) {
	t.Parallel()
	type got struct {
		Reauth, Idle, Reuse time.Duration
		Rotation            bool
		Password            throttle.Rate
	}
	read := func(c Config) got {
		return got{c.ReauthWindow, c.SessionIdleTTL, c.RefreshReuseInterval, c.RefreshRotation, c.Rates[ScopePassword]}
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want got
	}{
		{want: got{10 * time.Minute, 0, 10 * time.Second, false, throttle.Rate{N: 6, Period: time.Minute}}},
		{
			env: map[string]string{
				"AUTHD_REAUTH_WINDOW": "5m", "AUTHD_SESSION_IDLE_TTL": "30m", "AUTHD_REFRESH_ROTATION": "true",
				"AUTHD_REFRESH_REUSE_INTERVAL": "0", "AUTHD_THROTTLE_PASSWORD": "3/hour",
			},
			want: got{5 * time.Minute, 30 * time.Minute, 0, true, throttle.Rate{N: 3, Period: time.Hour}},
		},
		{
			args: []string{"--refresh-rotation", "true", "--refresh-reuse-interval", "2s", "--session-idle-ttl", "0"},
			env:  map[string]string{"AUTHD_SESSION_IDLE_TTL": "1h"},
			want: got{10 * time.Minute, 0, 2 * time.Second, true, throttle.Rate{N: 6, Period: time.Minute}},
		},
	} {
		c, err := Load(tc.args, envOf(tc.env))
		if err != nil {
			t.Fatalf("%v %v: %v", tc.env, tc.args, err)
		}
		if diff := cmp.Diff(tc.want, read(c)); diff != "" {
			t.Errorf("%v %v (-want +got):\n%s", tc.env, tc.args, diff)
		}
	}

	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AUTHD_REAUTH_WINDOW": "0"}, "AUTHD_REAUTH_WINDOW"},
		{map[string]string{"AUTHD_REAUTH_WINDOW": "ten minutes"}, "AUTHD_REAUTH_WINDOW"},
		{map[string]string{"AUTHD_SESSION_IDLE_TTL": "-5m"}, "AUTHD_SESSION_IDLE_TTL"},
		{map[string]string{"AUTHD_SESSION_IDLE_TTL": "100ms"}, "AUTHD_SESSION_IDLE_TTL"},
		{map[string]string{"AUTHD_REFRESH_ROTATION": "on"}, "AUTHD_REFRESH_ROTATION"},
		{map[string]string{"AUTHD_REFRESH_REUSE_INTERVAL": "-1s"}, "AUTHD_REFRESH_REUSE_INTERVAL"},
		{map[string]string{"AUTHD_REFRESH_REUSE_INTERVAL": "10"}, "AUTHD_REFRESH_REUSE_INTERVAL"},
		{map[string]string{"AUTHD_THROTTLE_PASSWORD": "6/fortnight"}, "AUTHD_THROTTLE_PASSWORD"},
	} {
		_, err := Load(nil, envOf(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line naming %s", tc.env, err, tc.want)
		}
	}

	var help bytes.Buffer
	PrintSettings(&help)
	for _, env := range []string{"AUTHD_REAUTH_WINDOW", "AUTHD_SESSION_IDLE_TTL", "AUTHD_REFRESH_ROTATION", "AUTHD_REFRESH_REUSE_INTERVAL", "AUTHD_THROTTLE_PASSWORD"} {
		if !strings.Contains(help.String(), env+", --"+Flag(env)) {
			t.Errorf("-h does not list %s", env)
		}
	}
}
