// Package education is Azora's learning service: instructors publish
// courses made of ordered lessons, students enrol (paying through the
// finance service's saga when a course has a price), track their progress,
// and earn Ed25519-signed certificates anyone can verify. It publishes
// azora.education.* events and reacts to azora.finance.payment.* ones.
package education
