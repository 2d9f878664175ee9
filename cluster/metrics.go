package cluster

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns the Prometheus registry of one process, holding the
// Go runtime's and the process's collectors. Every role in the process
// registers its families with it (never the global default registry), and
// /metrics serves it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// wire hands the frontend's registry, tracer provider and logger to the
// roles it runs, unless their own options set them.
func (o *FrontendOptions) wire() {
	if o.Metrics != nil {
		if o.Coordinator.Registerer == nil {
			o.Coordinator.Registerer = o.Metrics
		}
		if o.Indexer.Registerer == nil {
			o.Indexer.Registerer = o.Metrics
		}
		if o.Web.Metrics == nil {
			o.Web.Metrics = o.Metrics
		}
		if o.Web.Registerer == nil {
			o.Web.Registerer = o.Metrics
		}
	}
	if o.TracerProvider != nil {
		if o.Coordinator.TracerProvider == nil {
			o.Coordinator.TracerProvider = o.TracerProvider
		}
		if o.Web.TracerProvider == nil {
			o.Web.TracerProvider = o.TracerProvider
		}
	}
	if o.Coordinator.Logger == nil {
		o.Coordinator.Logger = o.Logger
	}
	if o.Indexer.Logger == nil {
		o.Indexer.Logger = o.Logger
	}
}
