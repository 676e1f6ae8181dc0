package gateway

import (
	"net/http"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/finance"
)

// Gateway-only paths.
const (
	PathDashboard = "/api/v1/me/dashboard"
	PathOpenAPI   = "/api/v1/openapi.json"
	PathDocs      = "/api/v1/docs"
)

// Routes is every path the gateway forwards (API.md's, and the services'
// additions the OpenAPI document describes), with what it needs at the
// edge. A path missing here is a 404 at the gateway.
var Routes = []Route{
	// auth
	{http.MethodPost, auth.PathRegister, ServiceAuth, Public, ClassAuth},
	{http.MethodPost, auth.PathLogin, ServiceAuth, Public, ClassAuth},
	{http.MethodPost, auth.PathLoginMFA, ServiceAuth, Public, ClassAuth},
	{http.MethodPost, auth.PathRefresh, ServiceAuth, Public, ClassAuth},
	{http.MethodPost, auth.PathLogout, ServiceAuth, User, ClassAnonymous},
	{http.MethodGet, auth.PathMe, ServiceAuth, User, ClassAnonymous},
	{http.MethodPost, auth.PathTOTPSetup, ServiceAuth, User, ClassAnonymous},
	{http.MethodPost, auth.PathTOTPEnable, ServiceAuth, User, ClassAnonymous},
	{http.MethodPost, auth.PathTOTPDisable, ServiceAuth, User, ClassAnonymous},
	{http.MethodPost, auth.PathPassword, ServiceAuth, User, ClassAuth}, // checks a password: limited like login
	{http.MethodGet, auth.PathSessions, ServiceAuth, User, ClassAnonymous},
	{http.MethodDelete, auth.PathSession, ServiceAuth, User, ClassAnonymous},
	{http.MethodDelete, auth.PathSessions, ServiceAuth, User, ClassAnonymous},
	{http.MethodGet, auth.PathUsers, ServiceAuth, User, ClassAnonymous},
	{http.MethodGet, auth.PathUser, ServiceAuth, User, ClassAnonymous},
	{http.MethodPut, auth.PathUserRoles, ServiceAuth, User, ClassAnonymous},
	{http.MethodGet, auth.PathJWKS, ServiceAuth, Public, ClassAnonymous},
	{http.MethodGet, auth.PathDiscovery, ServiceAuth, Public, ClassAnonymous},
	{http.MethodPost, auth.PathClients, ServiceAuth, User, ClassAnonymous},
	{http.MethodGet, auth.PathClients, ServiceAuth, User, ClassAnonymous},
	{http.MethodGet, auth.PathClient, ServiceAuth, User, ClassAnonymous},
	{http.MethodPatch, auth.PathClient, ServiceAuth, User, ClassAnonymous},
	{http.MethodDelete, auth.PathClient, ServiceAuth, User, ClassAnonymous},
	{http.MethodPost, auth.PathClientSecret, ServiceAuth, User, ClassAnonymous},
	// The authorization endpoint shows auth's own login page (GET) and
	// takes its form (POST); the rest authenticate OAuth clients, not users.
	{http.MethodGet, auth.PathAuthorize, ServiceAuth, Public, ClassAuth},
	{http.MethodPost, auth.PathAuthorize, ServiceAuth, Public, ClassAuth},
	{http.MethodPost, auth.PathToken, ServiceAuth, Public, ClassAuth},
	{http.MethodPost, auth.PathIntrospect, ServiceAuth, Public, ClassAnonymous},
	{http.MethodPost, auth.PathRevoke, ServiceAuth, Public, ClassAnonymous},
	{http.MethodGet, auth.PathUserInfo, ServiceAuth, User, ClassAnonymous},
	{http.MethodPost, auth.PathUserInfo, ServiceAuth, User, ClassAnonymous}, // OIDC Core §5.3: GET and POST

	// education
	{http.MethodPost, education.PathCourses, ServiceEducation, User, ClassAnonymous},
	{http.MethodGet, education.PathCourses, ServiceEducation, Public, ClassAnonymous},
	{http.MethodGet, education.PathCourse, ServiceEducation, OptionalUser, ClassAnonymous},
	{http.MethodPatch, education.PathCourse, ServiceEducation, User, ClassAnonymous},
	{http.MethodDelete, education.PathCourse, ServiceEducation, User, ClassAnonymous},
	{http.MethodPost, education.PathCourseLessons, ServiceEducation, User, ClassAnonymous},
	{http.MethodPatch, education.PathCourseLesson, ServiceEducation, User, ClassAnonymous},
	{http.MethodPost, education.PathCoursePublish, ServiceEducation, User, ClassAnonymous},
	{http.MethodPost, education.PathCourseEnrollments, ServiceEducation, User, ClassAnonymous},
	{http.MethodGet, education.PathEnrollments, ServiceEducation, User, ClassAnonymous},
	{http.MethodGet, education.PathEnrollment, ServiceEducation, User, ClassAnonymous},
	{http.MethodPost, education.PathCompleteLesson, ServiceEducation, User, ClassAnonymous},
	{http.MethodGet, education.PathCertificates, ServiceEducation, User, ClassAnonymous},
	{http.MethodGet, education.PathCertificate, ServiceEducation, Public, ClassAnonymous},
	{http.MethodGet, education.PathVerify, ServiceEducation, Public, ClassAnonymous},
	{http.MethodGet, education.PathCertificatePDF, ServiceEducation, Public, ClassAnonymous},
	{http.MethodGet, education.PathCertificateKeys, ServiceEducation, Public, ClassAnonymous},

	// finance
	{http.MethodGet, finance.PathWallets, ServiceFinance, User, ClassAnonymous},
	{http.MethodGet, finance.PathWallet, ServiceFinance, User, ClassAnonymous},
	{http.MethodGet, finance.PathWalletTransactions, ServiceFinance, User, ClassAnonymous},
	{http.MethodPost, finance.PathTransfers, ServiceFinance, User, ClassAnonymous},
	{http.MethodPost, finance.PathWalletTopups, ServiceFinance, User, ClassAnonymous},
	{http.MethodPost, finance.PathStripeWebhook, ServiceFinance, Public, ClassAnonymous},
	{http.MethodPost, finance.PathTopupRefund, ServiceFinance, User, ClassAnonymous},
}
