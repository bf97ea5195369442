package main

import (
	"runtime"
	"sync"
	"time"
)

// memSampler records the peak HeapInuse and Sys of this process, sampled every 50 ms.
type memSampler struct {
	mu        sync.Mutex
	heap, sys uint64
	done      chan struct{}
}

func newMemSampler() *memSampler {
	m := &memSampler{done: make(chan struct{})}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *memSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.heap = max(m.heap, ms.HeapInuse)
	m.sys = max(m.sys, ms.Sys)
}

// reset starts a new peak.
func (m *memSampler) reset() {
	m.mu.Lock()
	m.heap, m.sys = 0, 0
	m.mu.Unlock()
	m.sample()
}

// peak returns the peaks since the last reset.
func (m *memSampler) peak() (heap, sys uint64) {
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heap, m.sys
}

func (m *memSampler) stop() { close(m.done) }
