package throttle

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want Rate
	}{
		{"6/minute", Rate{6, time.Minute}},
		{"60/minute", Rate{60, time.Minute}},
		{"1/second", Rate{1, time.Second}},
		{"10/hour", Rate{10, time.Hour}},
		{"10000/day", Rate{10000, day}},
		{"5/s", Rate{5, time.Second}},
		{"5/m", Rate{5, time.Minute}},
		{"5/h", Rate{5, time.Hour}},
		{"5/d", Rate{5, day}},
		{"5/seconds", Rate{5, time.Second}},
		{"5/minutes", Rate{5, time.Minute}},
		{"5/hours", Rate{5, time.Hour}},
		{"5/days", Rate{5, day}},
		{"5/Minute", Rate{5, time.Minute}},
		{" 6/minute\n", Rate{6, time.Minute}},
		{"007/minute", Rate{7, time.Minute}},
	} {
		got, err := ParseRate(tc.in)
		if err != nil {
			t.Errorf("ParseRate(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseRate(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseRateRefuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "6", "/minute", "6/", "0/minute", "-1/minute", "+6/minute", " 6 /minute", "6/ minute",
		"6/fortnight", "6/sausage", "6/min", "6/1m", "6/minute/", "6/minute/x", "6.5/minute", "six/minute",
		"99999999999999999999/minute", "0x10/minute", "6_0/minute", "6/minute\nX",
	} {
		_, err := ParseRate(in)
		if err == nil {
			t.Errorf("ParseRate(%q): no error", in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "N/second, N/minute, N/hour or N/day") || strings.Contains(msg, "\n") {
			t.Errorf("ParseRate(%q): error %q does not say, on one line, what is expected", in, msg)
		}
	}
}

func TestRateString(t *testing.T) {
	t.Parallel()
	got := []string{
		Rate{6, time.Minute}.String(),
		Rate{1, time.Second}.String(),
		Rate{10, time.Hour}.String(),
		Rate{100, 24 * time.Hour}.String(),
		Rate{5, 90 * time.Second}.String(),
	}
	want := []string{"6/minute", "1/second", "10/hour", "100/day", "5/1m30s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, r := range []Rate{{6, time.Minute}, {1, time.Second}, {10, time.Hour}, {100, 24 * time.Hour}} {
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", r.String(), back, err, r)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Duration
		want int
	}{
		{-time.Second, 1},
		{0, 1},
		{time.Nanosecond, 1},
		{200 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{1010 * time.Millisecond, 2},
		{2 * time.Second, 2},
		{59*time.Second + 999*time.Millisecond, 60},
		{time.Minute, 60},
		{24 * time.Hour, 86400},
	} {
		if got := RetryAfterSeconds(tc.in); got != tc.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// FuzzParseRate checks that ParseRate reads nothing but N/unit with N at
// least 1, and that what it reads writes back to itself.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"6/minute", "1/s", "10000/day", "5/Hours", " 007/m\n", "0/minute", "6/1m", "-1/s", "99999999999999999999/minute", "6/minute/x", "６/minute"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "N/second, N/minute, N/hour or N/day") {
				t.Fatalf("ParseRate(%q): error %q", s, msg)
			}
			return
		}
		switch r.Period {
		case time.Second, time.Minute, time.Hour, 24 * time.Hour:
		default:
			t.Fatalf("ParseRate(%q) = %v: period %v is not a unit", s, r, r.Period)
		}
		if r.N < 1 || !r.valid() {
			t.Fatalf("ParseRate(%q) = %v: N under 1", s, r)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %v, which writes as %q and reads back as %v, %v", s, r, r.String(), back, err)
		}
	})
}
