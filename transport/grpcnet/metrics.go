package grpcnet

import (
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the aggregator's Prometheus metrics, in a registry of their
// own (with the Go runtime's and the process's). The transport counts
// connections, bytes and refusals; [Metrics.ObserveRound] counts rounds. A
// nil *Metrics records nothing. It is safe for concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	online       prometheus.Gauge
	connections  prometheus.Counter
	messagesIn   prometheus.Counter
	bytesIn      prometheus.Counter
	bytesOut     prometheus.Counter
	refusals     *prometheus.CounterVec
	rounds       *prometheus.CounterVec
	uploads      prometheus.Counter
	uploadBytes  prometheus.Counter
	roundSeconds prometheus.Histogram
	buildInfo    *prometheus.GaugeVec
	round        prometheus.Gauge
	epsilon      *prometheus.GaugeVec
}

// NewMetrics returns a fresh set of metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		online: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fedcrypt_members_online",
			Help: "Members with an open connection to the aggregator."}),
		connections: prometheus.NewCounter(prometheus.CounterOpts{Name: "fedcrypt_connections_total",
			Help: "Member connections accepted (reconnections included)."}),
		messagesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "fedcrypt_messages_received_total",
			Help: "Envelopes received from members."}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "fedcrypt_received_bytes_total",
			Help: "Envelope bytes received from members."}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "fedcrypt_sent_bytes_total",
			Help: "Envelope bytes sent to members."}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedcrypt_refusals_total",
			Help: "Connections and messages refused, by reason."}, []string{"reason"}),
		rounds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedcrypt_rounds_total",
			Help: "Round attempts, by outcome (completed or abandoned)."}, []string{"outcome"}),
		uploads: prometheus.NewCounter(prometheus.CounterOpts{Name: "fedcrypt_uploads_total",
			Help: "Uploads summed into completed rounds."}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "fedcrypt_upload_bytes_total",
			Help: "Upload bytes received in round attempts."}),
		roundSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fedcrypt_round_duration_seconds",
			Help: "Duration of round attempts.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
	}
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fedcrypt_build_info",
		Help: "1, labelled with the software's version and the Go version it was built with."}, []string{"version", "go_version"})
	m.round = prometheus.NewGauge(prometheus.GaugeOpts{Name: "fedcrypt_round",
		Help: "The last round attempted."})
	m.epsilon = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fedcrypt_epsilon_spent",
		Help: "Each hospital's ε as its latest summed upload claimed it (its signed ledger total)."}, []string{"hospital"})
	m.reg.MustRegister(m.online, m.connections, m.messagesIn, m.bytesIn, m.bytesOut, m.refusals, m.rounds,
		m.uploads, m.uploadBytes, m.roundSeconds, m.buildInfo, m.round, m.epsilon,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Refused counts one refusal; reason is one of the Refused* constants or,
// for messages the aggregator rejects after the transport, "message".
func (m *Metrics) Refused(reason string) {
	if m != nil {
		m.refusals.WithLabelValues(reason).Inc()
	}
}

// ObserveRound records one round attempt: whether it completed, how many
// uploads it summed, the upload bytes it received, how long it took, and
// how many messages the aggregator refused in it.
func (m *Metrics) ObserveRound(completed bool, uploads int, bytesUp int64, d time.Duration, refused int) {
	if m == nil {
		return
	}
	outcome := "abandoned"
	if completed {
		outcome = "completed"
		m.uploads.Add(float64(uploads))
	}
	m.rounds.WithLabelValues(outcome).Inc()
	m.uploadBytes.Add(float64(bytesUp))
	m.roundSeconds.Observe(d.Seconds())
	if refused > 0 {
		m.refusals.WithLabelValues("message").Add(float64(refused))
	}
}

// SetBuildInfo records the software's version.
func (m *Metrics) SetBuildInfo(version string) {
	if m != nil {
		m.buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	}
}

// ObserveProgress records the round last attempted and the ε each
// contributor of it claimed.
func (m *Metrics) ObserveProgress(round uint64, epsilon map[string]float64) {
	if m == nil {
		return
	}
	m.round.Set(float64(round))
	for id, e := range epsilon {
		m.epsilon.WithLabelValues(id).Set(e)
	}
}

func (m *Metrics) connected() {
	if m != nil {
		m.online.Inc()
		m.connections.Inc()
	}
}

func (m *Metrics) disconnected() {
	if m != nil {
		m.online.Dec()
	}
}

func (m *Metrics) received(n int) {
	if m != nil {
		m.messagesIn.Inc()
		m.bytesIn.Add(float64(n))
	}
}

func (m *Metrics) sent(n int) {
	if m != nil {
		m.bytesOut.Add(float64(n))
	}
}
