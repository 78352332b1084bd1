package main

import (
	"testing"
	"time"
)

func TestStatusField(t *testing.T) {
	t.Parallel()
	status := []byte("Name:\tauthd\nVmPeak:\t  812345 kB\nVmHWM:\t   45678 kB\nVmRSS:\t   40000 kB\n")
	got, err := statusField(status, "VmHWM")
	if err != nil || got != 45678*1024 {
		t.Errorf("statusField(VmHWM) = %d, %v; want %d", got, err, 45678*1024)
	}
	if _, err := statusField(status, "VmSwap"); err == nil {
		t.Error("statusField(VmSwap) found a missing field")
	}
	if _, err := statusField([]byte("VmHWM:\t12 MB\n"), "VmHWM"); err == nil {
		t.Error("statusField accepted a unit other than kB")
	}
}

func TestStatCPU(t *testing.T) {
	t.Parallel()
	stat := []byte("4242 (authd (serve)) S 1 4242 4242 0 -1 4194560 3000 0 0 0 250 75 0 0 20 0 9 0 100 1000000 4000 18446744073709551615\n")
	got, err := statCPU(stat)
	if err != nil || got != 3250*time.Millisecond {
		t.Errorf("statCPU = %v, %v; want 3.25s (250 + 75 ticks)", got, err)
	}
	for _, bad := range []string{"4242 authd S 1", "4242 (authd) S 1 2 3", "4242 (authd) S 1 4242 4242 0 -1 4194560 3000 0 0 0 x 75 0"} {
		if _, err := statCPU([]byte(bad)); err == nil {
			t.Errorf("statCPU(%q) read a time", bad)
		}
	}
}

func TestStatBusy(t *testing.T) {
	t.Parallel()
	stat := []byte("cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\n")
	busy, total, err := statBusy(stat)
	if err != nil || busy != 170*clockTick || total != 990*clockTick {
		t.Errorf("statBusy = %v, %v, %v; want %v busy of %v", busy, total, err, 170*clockTick, 990*clockTick)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3\n", "cpu 1 2 3 4 5 6 x 8\n"} {
		if _, _, err := statBusy([]byte(bad)); err == nil {
			t.Errorf("statBusy(%q) read a time", bad)
		}
	}
}
