package telegram

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"roster/internal/notify"
	"roster/internal/notify/telegram/telegramtest"
	"roster/internal/store"
)

// pipes is an in-memory network of net.Pipe connections: inside a
// synctest bubble the HTTP traffic to the local Bot API takes no time and
// the bubble's fake clock moves only when every goroutine waits.
type pipes struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipes() *pipes { return &pipes{conns: make(chan net.Conn), done: make(chan struct{})} }

func (p *pipes) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

func (p *pipes) Close() error   { p.once.Do(func() { close(p.done) }); return nil }
func (p *pipes) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (p *pipes) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case p.conns <- server:
		return client, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestRateLimitsOver10000Messages: 10,000 messages from 100 concurrent
// senders to 60 private chats and 4 groups, through the real client and
// limiter (Telegram's real limits: 1 a second per chat, 20 a minute per
// group, 30 a second overall) to the local Bot API, which fails the test
// on any message over a limit. A send whose turn is further off than
// MaxWait is snoozed (RetryAfter) and tried again then, as the job queue
// would. The test runs in a synctest bubble: the clock is fake, so about
// 6 minutes of sending take a few seconds.
func TestRateLimitsOver10000Messages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := telegramtest.New(t)
		net := newPipes()
		hs := &http.Server{Handler: srv}
		go func() { _ = hs.Serve(net) }()
		tr := &http.Transport{DialContext: net.dial, MaxIdleConnsPerHost: 100}
		ch, err := New(Config{Token: srv.Token, APIURL: "http://api.test", BaseURL: "http://roster.test", DB: &store.DB{},
			MAC: func(s string) []byte { return []byte(s) }, Texts: func(string) notify.Translator { return nil },
			HTTPClient: &http.Client{Transport: tr}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if ch.c.Limits != DefaultLimits || DefaultLimits.PerChat != 1 || DefaultLimits.ChatSpan != time.Second ||
			DefaultLimits.Overall != 30 || DefaultLimits.Span != time.Second || DefaultLimits.PerGroup != 20 || DefaultLimits.GroupSpan != time.Minute ||
			DefaultLimits.Margin <= 0 {
			t.Fatalf("limits %+v are not Telegram's", ch.c.Limits)
		}
		const total, senders = 10000, 100
		chats := make([]int64, 0, 64)
		for i := range 60 {
			chats = append(chats, int64(1000+i))
		}
		chats = append(chats, -1, -2, -3, -4)
		work := make(chan int64)
		go func() {
			for i := range total {
				// Groups get one message in 50: 200 each, within 20 a minute.
				chat := chats[i%60]
				if i%50 == 0 {
					chat = chats[60+(i/50)%4]
				}
				work <- chat
			}
			close(work)
		}()
		began := time.Now()
		var wg sync.WaitGroup
		snoozes := 0
		var mu sync.Mutex
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for chat := range work {
					for {
						err := ch.send(t.Context(), chat, "<b>Hello</b>", nil, false)
						var se *notify.SendError
						if errors.As(err, &se) && se.RetryAfter > 0 {
							if se.RetryAfter <= DefaultLimits.MaxWait {
								t.Errorf("snoozed for %v, within MaxWait", se.RetryAfter)
							}
							mu.Lock()
							snoozes++
							mu.Unlock()
							time.Sleep(se.RetryAfter)
							continue
						}
						if err != nil {
							t.Errorf("send: %v", err)
						}
						break
					}
				}
			}()
		}
		wg.Wait()
		took := time.Since(began)
		tr.CloseIdleConnections()
		_ = hs.Close()
		if got := len(srv.Messages()); got != total {
			t.Fatalf("%d messages arrived, want %d", got, total)
		}
		if len(srv.Violations) > 0 {
			t.Fatalf("%d limit violations, first: %s", len(srv.Violations), srv.Violations[0])
		}
		// 30 a second (every 1.1 s with the margin) is the bound: 10,000
		// take at least 367 s; the limiter should not waste much beyond it.
		if took < 366*time.Second || took > 420*time.Second {
			t.Errorf("10,000 messages took %v of fake time (367 s at 30 every 1.1 s)", took)
		}
		if snoozes == 0 {
			t.Error("100 senders at 30 a second never waited past MaxWait: the snooze path went untested")
		}
		t.Logf("10,000 messages in %v of fake time, %d snoozes", took, snoozes)
	})
}

// TestWindow: the sliding window grants n per span, exactly.
func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := newLimiter(Limits{PerChat: 1, ChatSpan: time.Second, PerGroup: 20, GroupSpan: time.Minute, Overall: 3, Span: time.Second,
		MaxWait: 10 * time.Second, MaxChats: 2}, func() time.Time { return t0 })
	var waits []time.Duration
	for _, chat := range []int64{1, 2, 3, 4, 1} {
		w, ok := l.reserve(chat)
		if !ok {
			t.Fatal("refused within MaxWait")
		}
		waits = append(waits, w)
	}
	want := []time.Duration{0, 0, 0, time.Second, time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	if len(l.chats) > 4 {
		t.Errorf("%d chats kept", len(l.chats))
	}
	// The window's edge is exact: a chat's next message 999 ms after its
	// last one waits the remaining millisecond and the margin.
	edge := newLimiter(DefaultLimits, func() time.Time { return t0 })
	edge.reserve(7)
	edge.now = func() time.Time { return t0.Add(999 * time.Millisecond) }
	if w, ok := edge.reserve(7); !ok || w != time.Millisecond+DefaultLimits.Margin {
		t.Fatalf("999 ms after: wait %v", w)
	}
	// Beyond MaxWait: nothing granted.
	l.lim.MaxWait = 500 * time.Millisecond
	if w, ok := l.reserve(1); ok || w != 2*time.Second {
		t.Fatalf("over MaxWait: %v %v", w, ok)
	}
}
