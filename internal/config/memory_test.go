package config

import (
	"bytes"
	"strings"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want int64
	}{
		{want: MemoryLimitAuto},
		{env: map[string]string{"AUTHD_MEMORY_LIMIT": "auto", "GOMEMLIMIT": "1GiB"}, want: MemoryLimitAuto},
		{env: map[string]string{"GOMEMLIMIT": "1GiB"}, want: MemoryLimitAuto},
		{env: map[string]string{"AUTHD_MEMORY_LIMIT": "off"}, want: MemoryLimitOff},
		{env: map[string]string{"AUTHD_MEMORY_LIMIT": "OFF"}, want: MemoryLimitOff},
		{env: map[string]string{"AUTHD_MEMORY_LIMIT": "160MiB"}, want: 160 << 20},
		{env: map[string]string{"AUTHD_MEMORY_LIMIT": "2GiB"}, want: 2 << 30},
		{env: map[string]string{"AUTHD_MEMORY_LIMIT": "65536KiB"}, want: 64 << 20},
		{env: map[string]string{"AUTHD_MEMORY_LIMIT": "100000000B"}, want: 100000000},
		{env: map[string]string{"AUTHD_MEMORY_LIMIT": "100000000"}, want: 100000000},
		{args: []string{"--memory-limit", "off"}, env: map[string]string{"AUTHD_MEMORY_LIMIT": "1GiB"}, want: MemoryLimitOff},
	} {
		c, err := Load(tc.args, envOf(tc.env))
		if err != nil {
			t.Errorf("%v %v: %v", tc.env, tc.args, err)
			continue
		}
		if c.MemoryLimit != tc.want {
			t.Errorf("%v %v: MemoryLimit = %d, want %d", tc.env, tc.args, c.MemoryLimit, tc.want)
		}
	}

	for _, env := range []map[string]string{
		{"AUTHD_MEMORY_LIMIT": "160MB"},
		{"AUTHD_MEMORY_LIMIT": "160 MiB"},
		{"AUTHD_MEMORY_LIMIT": "MiB"},
		{"AUTHD_MEMORY_LIMIT": "-160MiB"},
		{"AUTHD_MEMORY_LIMIT": "+160MiB"},
		{"AUTHD_MEMORY_LIMIT": "1.5GiB"},
		{"AUTHD_MEMORY_LIMIT": "16MiB"},
		{"AUTHD_MEMORY_LIMIT": "0"},
		{"AUTHD_MEMORY_LIMIT": "9999999999TiB"},
		{"AUTHD_MEMORY_LIMIT": "none"},
	} {
		_, err := Load(nil, envOf(env))
		if err == nil || !strings.HasPrefix(err.Error(), "AUTHD_MEMORY_LIMIT: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line naming AUTHD_MEMORY_LIMIT", env, err)
		}
	}
	// A size or off beside GOMEMLIMIT: which should win is a guess.
	for _, v := range []string{"off", "160MiB"} {
		_, err := Load(nil, envOf(map[string]string{"AUTHD_MEMORY_LIMIT": v, "GOMEMLIMIT": "1GiB"}))
		if err == nil || !strings.Contains(err.Error(), "AUTHD_MEMORY_LIMIT and GOMEMLIMIT") {
			t.Errorf("AUTHD_MEMORY_LIMIT=%s with GOMEMLIMIT: error %v, want one naming both", v, err)
		}
	}

	for _, tc := range []struct {
		maxClients, cache string
		want              int64
	}{
		{"100000", "10000", 2*19<<20 + 2*100000*400 + 10000*2048 + MemoryHeadroom},
		{"1000", "0", 2*19<<20 + 2*1000*400 + MemoryHeadroom},
	} {
		c, err := Load(nil, envOf(map[string]string{"AUTHD_THROTTLE_MAX_CLIENTS": tc.maxClients, "AUTHD_CACHE_SESSIONS": tc.cache}))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.AutoMemoryLimit(2 * 19 << 20); got != tc.want {
			t.Errorf("AutoMemoryLimit(2 × 19 MiB), %s clients, %s sessions cached = %d, want %d", tc.maxClients, tc.cache, got, tc.want)
		}
	}
	var help bytes.Buffer
	PrintSettings(&help)
	if !strings.Contains(help.String(), "AUTHD_MEMORY_LIMIT, --memory-limit (default auto)") {
		t.Errorf("-h does not list AUTHD_MEMORY_LIMIT with its default:\n%s", help.String())
	}
}
