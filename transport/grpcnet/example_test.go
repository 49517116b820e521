package grpcnet_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/fedcrypt/fedcrypt/transport/grpcnet"
)

// A federation CA certifies the aggregator and a member; the member
// connects over mutual TLS and the hub sees who it is from its certificate.
func Example() {
	ctx := context.Background()
	now := time.Now()
	ca, err := grpcnet.NewCA("example federation", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	srvCert, srvKey, _ := ca.Issue(grpcnet.Leaf{Hosts: []string{"127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	memCert, memKey, _ := ca.Issue(grpcnet.Leaf{Member: "st-mary", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})

	srv, err := grpcnet.NewServer(grpcnet.ServerConfig{
		Credentials: grpcnet.Credentials{CA: ca.CertPEM(), Cert: srvCert, Key: srvKey},
		Members:     []string{"st-mary"},
	})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(ctx)

	conn, err := grpcnet.Dial(ctx, grpcnet.DialConfig{Addr: l.Addr().String(), Member: "st-mary",
		Credentials: grpcnet.Credentials{CA: ca.CertPEM(), Cert: memCert, Key: memKey}})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	conn.Send(ctx, []byte("hello"))
	for range 2 {
		in, _ := srv.Recv(ctx)
		fmt.Printf("event %d from %s: %q\n", in.Kind, in.From, in.Data)
	}
	// Output:
	// event 1 from st-mary: ""
	// event 0 from st-mary: "hello"
}
