package education

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/azora-os/azora/shared/httpx"
)

// The course endpoints: an instructor's drafts, lessons and publishing,
// and the public catalogue.

func makeCreateCourseEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		in := request.(CourseInput)
		if err := checkCourseInput(&in); err != nil {
			return nil, err
		}
		c, err := s.CreateCourse(ctx, a, in)
		if err != nil {
			return nil, err
		}
		return courseResponse{Course: c}, nil
	}
}

func makeCatalogueEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(catalogueRequest)
		if err := req.check(); err != nil {
			return nil, err
		}
		return listOf(s.Catalogue(ctx, req.Q, req.Page))
	}
}

// makeCourseEndpoint passes the Actor optionalJWT verified, nil for an
// anonymous caller: the Service shows drafts to their owner and admins.
func makeCourseEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(idRequest)
		if !validID(req.ID) {
			return nil, ErrCourseNotFound
		}
		c, err := s.Course(ctx, optionalActor(ctx), req.ID)
		if err != nil {
			return nil, err
		}
		return courseResponse{Course: c}, nil
	}
}

func makeUpdateCourseEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(updateCourseRequest)
		if !validID(req.ID) {
			return nil, ErrCourseNotFound
		}
		if err := checkCoursePatch(&req.Patch); err != nil {
			return nil, err
		}
		c, err := s.UpdateCourse(ctx, a, req.ID, req.Patch)
		if err != nil {
			return nil, err
		}
		return courseResponse{Course: c}, nil
	}
}

func makeAddLessonEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(addLessonRequest)
		if !validID(req.CourseID) {
			return nil, ErrCourseNotFound
		}
		if err := checkLessonInput(&req.Input); err != nil {
			return nil, err
		}
		l, err := s.AddLesson(ctx, a, req.CourseID, req.Input)
		if err != nil {
			return nil, err
		}
		return lessonResponse{Lesson: l}, nil
	}
}

func makeUpdateLessonEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(updateLessonRequest)
		switch {
		case !validID(req.CourseID):
			return nil, ErrCourseNotFound
		case !validID(req.LessonID):
			return nil, ErrLessonNotFound
		}
		if err := checkLessonPatch(&req.Patch); err != nil {
			return nil, err
		}
		l, err := s.UpdateLesson(ctx, a, req.CourseID, req.LessonID, req.Patch)
		if err != nil {
			return nil, err
		}
		return lessonResponse{Lesson: l}, nil
	}
}

func makeDeleteCourseEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, id, err := actorAndID(ctx, request, ErrCourseNotFound)
		if err != nil {
			return nil, err
		}
		if err := s.DeleteCourse(ctx, a, id); err != nil {
			return nil, err
		}
		return httpx.NoContent{}, nil
	}
}

func makePublishEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, id, err := actorAndID(ctx, request, ErrCourseNotFound)
		if err != nil {
			return nil, err
		}
		c, err := s.Publish(ctx, a, id)
		if err != nil {
			return nil, err
		}
		return courseResponse{Course: c}, nil
	}
}
