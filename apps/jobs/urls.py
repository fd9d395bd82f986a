from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("tools/<slug:slug>/", views.submit, name="tool-submit"),
    path("jobs/", views.history, name="job-history"),
    path("jobs/<uuid:job_id>/", views.detail, name="job-detail"),
    path("jobs/<uuid:job_id>/events/", views.events, name="job-events"),
    path("jobs/<uuid:job_id>/cancel/", views.cancel, name="job-cancel"),
    path("jobs/<uuid:job_id>/rerun/", views.rerun, name="job-rerun"),
    path("jobs/<uuid:job_id>/rate/", views.rate, name="job-rate"),
    path("jobs/<uuid:job_id>/resume/", views.resume, name="job-resume"),
    path("jobs/<uuid:job_id>/retry-failed/", views.retry_failed, name="job-retry-failed"),
    path("jobs/<uuid:job_id>/files/<int:file_id>/", views.job_file, name="job-file"),
]
