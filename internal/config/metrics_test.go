package config

import (
	"strings"
	"testing"
)

func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string // MetricsAddr, or the variable the error names
		bad  bool
	}{
		{env: nil, want: ""},
		{env: map[string]string{"AUTHD_METRICS_ADDR": "127.0.0.1:9090"}, want: "127.0.0.1:9090"},
		{env: map[string]string{"AUTHD_METRICS_ADDR": ":9090"}, want: ":9090"},
		{env: map[string]string{"AUTHD_METRICS_ADDR": "[::1]:9090"}, want: "[::1]:9090"},
		{env: map[string]string{"AUTHD_METRICS_ADDR": "metrics.internal:9090"}, want: "metrics.internal:9090"},
		{env: map[string]string{"AUTHD_ADDR": "127.0.0.1:0", "AUTHD_METRICS_ADDR": "127.0.0.1:0"}, want: "127.0.0.1:0"},
		{env: map[string]string{"AUTHD_ADDR": "127.0.0.1:8000", "AUTHD_METRICS_ADDR": "127.0.0.2:8000"}, want: "127.0.0.2:8000"},

		{env: map[string]string{"AUTHD_METRICS_ADDR": "9090"}, want: "AUTHD_METRICS_ADDR", bad: true},
		{env: map[string]string{"AUTHD_METRICS_ADDR": "127.0.0.1:metrics"}, want: "AUTHD_METRICS_ADDR", bad: true},
		{env: map[string]string{"AUTHD_METRICS_ADDR": "127.0.0.1:65536"}, want: "AUTHD_METRICS_ADDR", bad: true},
		{env: map[string]string{"AUTHD_METRICS_ADDR": "bad host:9090"}, want: "AUTHD_METRICS_ADDR", bad: true},
		{env: map[string]string{"AUTHD_METRICS_ADDR": ":8000"}, want: "AUTHD_METRICS_ADDR", bad: true},
		{env: map[string]string{"AUTHD_ADDR": "127.0.0.1:8000", "AUTHD_METRICS_ADDR": "127.0.0.1:8000"}, want: "AUTHD_METRICS_ADDR", bad: true},
		{env: map[string]string{"AUTHD_ADDR": "127.0.0.1:8000", "AUTHD_METRICS_ADDR": "0.0.0.0:8000"}, want: "AUTHD_METRICS_ADDR", bad: true},
		{env: map[string]string{"AUTHD_ADDR": "[::]:8000", "AUTHD_METRICS_ADDR": "127.0.0.1:8000"}, want: "AUTHD_METRICS_ADDR", bad: true},
	} {
		c, err := Load(nil, envOf(tc.env))
		switch {
		case tc.bad && err == nil:
			t.Errorf("%v: MetricsAddr %q, want an error naming %s", tc.env, c.MetricsAddr, tc.want)
		case tc.bad && (!strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%v: error %q, want one line naming %s", tc.env, err, tc.want)
		case !tc.bad && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case !tc.bad && c.MetricsAddr != tc.want:
			t.Errorf("%v: MetricsAddr = %q, want %q", tc.env, c.MetricsAddr, tc.want)
		}
	}
}
