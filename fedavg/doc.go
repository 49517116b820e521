// Package fedavg turns the decrypted aggregate of a federated round into the
// next global model.
//
// Each contributor k uploads its model delta Δₖ = wₖ_local − w_global, clipped
// to the federation's declared bound and scaled by its public weight pₖ. The
// aggregator only ever sees the sum S = Σₖ pₖΔₖ (decrypted by a quorum of key
// holders), divides it by the public total weight P = Σₖ pₖ to obtain the mean
// update Δ̄ = S / P, and hands Δ̄ to a server optimizer:
//
//	FedAvg   (McMahan et al. 2017):  w ← w + η·Δ̄
//	FedAvgM  (Hsu et al. 2019):      v ← β·v + Δ̄;  w ← w + η·v
//	FedAdam  (Reddi et al. 2021):    m ← β₁·m + (1−β₁)·Δ̄
//	                                 v ← β₂·v + (1−β₂)·Δ̄²
//	                                 w ← w + η·m / (√v + τ)
//
// FedAdam follows Reddi et al.'s "Adaptive Federated Optimization" (ICLR
// 2021), Algorithm 2, without bias correction and with τ the adaptivity
// parameter (default 1e-3).
//
// Everything here works on plain []float64 vectors laid out as the model's
// flat parameter vector; server state serializes exactly so a resumed run
// continues bit for bit. A [Server] is not safe for concurrent use.
package fedavg
