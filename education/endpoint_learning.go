package education

import (
	"context"
	"errors"

	"github.com/go-kit/kit/endpoint"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
)

// The learner's endpoints (enrollment, progress, own certificates) and the
// public certificate ones.

func makeEnrollEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, id, err := actorAndID(ctx, request, ErrCourseNotFound)
		if err != nil {
			return nil, err
		}
		e, err := s.Enroll(ctx, a, id)
		if err != nil {
			return nil, err
		}
		return enrolledResponse{Enrollment: e}, nil
	}
}

func makeEnrollmentsEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		return listOf(s.Enrollments(ctx, a, request.(listRequest).Page))
	}
}

func makeEnrollmentEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, id, err := actorAndID(ctx, request, ErrEnrollmentNotFound)
		if err != nil {
			return nil, err
		}
		e, err := s.Enrollment(ctx, a, id)
		if err != nil {
			return nil, err
		}
		return enrollmentResponse{Enrollment: e}, nil
	}
}

func makeCompleteLessonEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(completeLessonRequest)
		switch {
		case !validID(req.EnrollmentID):
			return nil, ErrEnrollmentNotFound
		case !validID(req.LessonID):
			return nil, ErrLessonNotFound
		}
		p, err := s.CompleteLesson(ctx, a, req.EnrollmentID, req.LessonID)
		if err != nil {
			return nil, err
		}
		return progressResponse{Progress: p}, nil
	}
}

func makeCertificatesEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		return listOf(s.Certificates(ctx, a, request.(listRequest).Page))
	}
}

func makeCertificateEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(idRequest)
		if !validID(req.ID) {
			return nil, ErrCertificateNotFound
		}
		c, err := s.Certificate(ctx, req.ID)
		if err != nil {
			return nil, err
		}
		return certificateResponse{Certificate: c}, nil
	}
}

func makeVerifyEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(idRequest)
		if !validID(req.ID) {
			return nil, ErrCertificateNotFound
		}
		return s.Verify(ctx, req.ID)
	}
}

func makeCertificatePDFEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(idRequest)
		if !validID(req.ID) {
			return nil, ErrCertificateNotFound
		}
		b, err := s.CertificatePDF(ctx, req.ID)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			// An empty 200 would pass for a certificate that prints nothing.
			return nil, errs.Internalf(errors.New("empty document"), "certificate %s PDF", req.ID)
		}
		return pdfResponse{ID: req.ID, PDF: b}, nil
	}
}

// listOf passes a Service's page on with an empty, never a null, items
// array: API.md's lists always carry one.
func listOf[T any](p page.Page[T], err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p, nil
}

func makeCertificateKeysEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		ks, err := s.CertificateKeys(ctx)
		if err != nil {
			return nil, err
		}
		if ks.Keys == nil {
			ks.Keys = []PublicKey{} // a JWKS's keys member is an array, never null
		}
		return ks, nil
	}
}
