// Package gateway is Azora's API gateway: the one public entry that routes
// API.md's paths to the service instances, verifies tokens at the edge,
// applies rate limits and circuit breakers, and assembles the dashboard.
package gateway
