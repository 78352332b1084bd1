package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// peakRSS is the VmHWM of a process (its resident set's high-water mark)
// in bytes, from /proc.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return statusField(b, "VmHWM")
}

// statusField reads a "Name:   1234 kB" line of /proc/<pid>/status, in bytes.
func statusField(status []byte, name string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected value %q", name, v)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New(name + " not found")
}

// cpuModel names the processor, for the report.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes, or
// "" when it cannot be read.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], ", ")
}

// clockTick is the unit of the CPU times of /proc/<pid>/stat: USER_HZ,
// 100 on Linux whatever the kernel's own tick.
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU time a process has used, user and system, from
// /proc.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return statCPU(b)
}

// statCPU reads utime and stime from a /proc/<pid>/stat line: the 14th
// and 15th fields, counted after the command name, which is in
// parentheses and may hold spaces.
func statCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is the state, the 3rd field; utime is the 14th.
	if len(f) < 13 {
		return 0, errors.New("stat: too few fields")
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// machineCPU is the CPU time all the machine's CPUs have been busy and
// have been counted, busy or idle, from /proc/stat.
func machineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return statBusy(b)
}

// statBusy reads the "cpu" line of /proc/stat: user, nice, system, idle,
// iowait, irq, softirq, steal, in ticks; idle and iowait are not busy.
func statBusy(stat []byte) (busy, total time.Duration, err error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, errors.New("stat: no cpu line")
	}
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("stat: %w", err)
		}
		d := time.Duration(n) * clockTick
		total += d
		if i != 3 && i != 4 {
			busy += d
		}
	}
	return busy, total, nil
}

// cpuShare is how the machine's CPUs were used over a stretch of time, in
// CPUs: by authd's processes, by this harness, by every other program.
type cpuShare struct {
	CPUs                   int
	Authd, Harness, Others float64
}

// cpuWatch measures a cpuShare from its start to its stop.
type cpuWatch struct {
	pids                 []int // authd's processes
	authd, harness, busy time.Duration
	start                time.Time
	err                  error
}

func watchCPU(pids ...int) *cpuWatch {
	w := &cpuWatch{pids: pids, start: time.Now()}
	w.authd, w.harness, w.busy, w.err = w.read()
	return w
}

// read returns the CPU time of authd's processes, of this one and of the
// whole machine.
func (w *cpuWatch) read() (authd, harness, busy time.Duration, err error) {
	for _, pid := range w.pids {
		t, errPid := cpuTime(pid)
		authd, err = authd+t, errors.Join(err, errPid)
	}
	harness, errSelf := cpuTime(os.Getpid())
	busy, _, errMachine := machineCPU()
	return authd, harness, busy, errors.Join(err, errSelf, errMachine)
}

// stop returns the share, and false when it could not be read.
func (w *cpuWatch) stop() (cpuShare, bool) {
	authd, harness, busy, err := w.read()
	wall := time.Since(w.start).Seconds()
	if errors.Join(w.err, err) != nil || wall <= 0 {
		return cpuShare{}, false
	}
	s := cpuShare{CPUs: runtime.NumCPU(),
		Authd: (authd - w.authd).Seconds() / wall, Harness: (harness - w.harness).Seconds() / wall}
	s.Others = max(0, (busy-w.busy).Seconds()/wall-s.Authd-s.Harness)
	return s, true
}

func (s cpuShare) String() string {
	return fmt.Sprintf("authd %.2f, this harness %.2f, other programs %.2f of %d CPUs", s.Authd, s.Harness, s.Others, s.CPUs)
}
