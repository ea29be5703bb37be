// user
