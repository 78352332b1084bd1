package main

import "testing"

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
