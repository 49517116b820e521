package transport_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fedcrypt/fedcrypt/transport"
)

// A member connects to an in-memory network and sends the aggregator a
// message; the hub sees who connected and who sent it, and answers.
func ExampleNetwork() {
	ctx := context.Background()
	n := transport.NewNetwork(8)
	defer n.Close()
	hub := n.Hub()

	conn, err := n.Dial(ctx, "st-mary")
	if err != nil {
		log.Fatal(err)
	}
	if err := conn.Send(ctx, []byte("an encoded envelope")); err != nil {
		log.Fatal(err)
	}
	for range 2 {
		in, err := hub.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		switch in.Kind {
		case transport.Joined:
			fmt.Printf("%s joined\n", in.From)
		case transport.Message:
			fmt.Printf("%d bytes from %s\n", len(in.Data), in.From)
		}
	}
	if err := hub.Send(ctx, "st-mary", []byte("a reply")); err != nil {
		log.Fatal(err)
	}
	reply, err := conn.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("st-mary got %q\n", reply)
	// Output:
	// st-mary joined
	// 19 bytes from st-mary
	// st-mary got "a reply"
}
