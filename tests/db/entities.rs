//! Every entity matches its table or view.
