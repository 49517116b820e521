package transport

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNetworkDeliversCopiesBothWays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := NewNetwork(8)
	defer n.Close()
	hub := n.Hub()
	c, err := n.Dial(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := hub.Recv(ctx); in.Kind != Joined || in.From != "h1" {
		t.Fatalf("first event %+v, want h1 joined", in)
	}
	msg := []byte("upload")
	if err := c.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	in, _ := hub.Recv(ctx)
	if in.Kind != Message || in.From != "h1" || string(in.Data) != "upload" {
		t.Fatalf("got %+v", in)
	}
	if err := hub.Send(ctx, "h1", []byte("round")); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Recv(ctx); string(got) != "round" {
		t.Fatalf("member got %q", got)
	}
	if err := hub.Send(ctx, "h2", []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("send to absent member: %v", err)
	}
	c.Close()
	if in, _ := hub.Recv(ctx); in.Kind != Left || in.From != "h1" {
		t.Fatalf("after close got %+v, want h1 left", in)
	}
	if err := hub.Send(ctx, "h1", []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("send after close: %v", err)
	}
	if _, err := c.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("recv on closed conn: %v", err)
	}
}

func TestRedialReplacesConnection(t *testing.T) {
	ctx := context.Background()
	n := NewNetwork(8)
	defer n.Close()
	old, _ := n.Dial(ctx, "h1")
	fresh, _ := n.Dial(ctx, "h1")
	if err := n.Hub().Send(ctx, "h1", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got, _ := fresh.Recv(ctx); string(got) != "hi" {
		t.Fatalf("new connection got %q", got)
	}
	if _, err := old.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("replaced connection still open: %v", err)
	}
}

func TestRecvHonoursContext(t *testing.T) {
	n := NewNetwork(1)
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.Hub().Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv on cancelled context: %v", err)
	}
	n.Close()
	if _, err := n.Hub().Recv(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv on closed network: %v", err)
	}
}
