package main

import (
	"os"
	"testing"
	"time"
)

func TestProcessCPUGrowsWithWork(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		x++
	}
	after, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("300 ms of spinning read as %v of CPU (x=%d)", d, x)
	}
	if _, err := processCPU(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestCounterSumAddsTheMatchingSamplesOnly(t *testing.T) {
	body := []byte(`# HELP broker_publishes_total Messages published.
# TYPE broker_publishes_total counter
broker_publishes_total{exchange="e",result="ok"} 12
broker_publishes_total{exchange="e.push",result="ok"} 3e+01
broker_publishes_total{exchange="e",result="nack"} 5
broker_publishes_total_other{result="ok"} 100
`)
	if got := counterSum(body, "broker_publishes_total", `result="ok"`); got != 42 {
		t.Errorf("got %v, want 42", got)
	}
}

func TestBetweenDividesByTheOperations(t *testing.T) {
	a := reading{cpu: map[string]time.Duration{"messages": time.Second, "mariadb": 2 * time.Second, "client": 0},
		status: map[string]float64{"Questions": 100, "Com_insert": 10, "Com_commit": 5}, publishes: 7}
	b := reading{cpu: map[string]time.Duration{"messages": 3 * time.Second, "mariadb": 6 * time.Second, "client": time.Second},
		status: map[string]float64{"Questions": 2101, "Com_insert": 1010, "Com_commit": 505}, publishes: 1007}
	c := between(a, b, 1000)
	if c.CPUms["messages"] != 2 || c.CPUms["mariadb"] != 4 || c.ServerMs != 6 || c.ClientMs != 1 {
		t.Errorf("CPU %+v", c)
	}
	if c.Statements != 2 || c.Writes != 1 || c.Commits != 0.5 || c.Publishes != 1 {
		t.Errorf("counters %+v", c)
	}
}
