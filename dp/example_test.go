package dp_test

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/dp"
)

func ExampleEpsilon() {
	run := dp.Event{SampleRate: 0.04, NoiseMultiplier: 1.5, Steps: 2250}
	rdp, err := dp.Epsilon(dp.AccountantConfig{Kind: dp.KindRDP}, 1e-5, run)
	if err != nil {
		panic(err)
	}
	pld, err := dp.Epsilon(dp.AccountantConfig{Kind: dp.KindPLD}, 1e-5, run)
	if err != nil {
		panic(err)
	}
	fmt.Printf("RDP ε = %.4f, PLD ε = %.4f\n", rdp, pld)
	// Output: RDP ε = 7.3291, PLD ε = 6.7688
}

func ExampleCalibrateNoise() {
	sigma, err := dp.CalibrateNoise(dp.AccountantConfig{Kind: dp.KindRDP}, 8, 1e-5, 0.04, 2000)
	if err != nil {
		panic(err)
	}
	fmt.Printf("noise multiplier %.4f\n", sigma)
	// Output: noise multiplier 1.3561
}
