"""Administration pages that span features: the dashboard and the teacher import with enrolment and seating."""
