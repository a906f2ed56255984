//! `#[spool::main]` and `#[spool::test]`: turn an `async fn` into a plain one that builds a Spool
//! runtime and runs the body in its `block_on` (tokio's `#[tokio::main]` and `#[tokio::test]`,
//! with the same arguments). Use them through the `spool` crate, which re-exports both.
//!
//! The expansion of `#[spool::main(flavor = "current_thread")] async fn f(args) -> R { body }`:
//!
//! ```text
//! fn f(args) -> R {
//!     let body = async move { body };
//!     // Names the output type, so that `?` in the body knows its error type.
//!     let body: Pin<&mut dyn Future<Output = R>> = pin!(body);
//!     spool::Builder::new_current_thread().build().expect(..).block_on(body)
//! }
//! ```
//!
//! `#[spool::test]` does the same under `#[test]`, current-thread by default (as tokio's).
//! Arguments are checked here: a wrong one is a compile error whose span and message name it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token};

/// Runs an `async fn` on a Spool runtime: multi-thread with one worker per core by default,
/// `worker_threads = N` to choose, `flavor = "current_thread"` for the one-thread runtime
/// (`start_paused = true` then starts its clock paused). Works on any `async fn`, not only
/// `main`.
///
/// ```
/// #[spool::main(worker_threads = 2)]
/// async fn main() {
///     let task = spool::spawn(async { 1 + 1 });
///     assert_eq!(task.await, Ok(2));
///     assert_eq!(add_later(2, 3), 5); // a plain fn now
/// }
///
/// #[spool::main(flavor = "current_thread")]
/// async fn add_later(a: u32, b: u32) -> u32 {
///     spool::time::sleep(std::time::Duration::from_millis(1)).await;
///     a + b
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into(), Kind::Main).into()
}

/// Runs an `async fn` test on a Spool runtime: current-thread by default (as tokio's), with
/// `start_paused = true` for the paused test clock; `flavor = "multi_thread"` (and
/// `worker_threads = N`) for the multi-thread one.
///
/// ```
/// #[spool::test(start_paused = true)]
/// async fn an_hour_passes_at_once() {
///     let start = spool::time::Instant::now();
///     spool::time::sleep(std::time::Duration::from_secs(3600)).await;
///     assert_eq!(start.elapsed().as_secs(), 3600);
/// }
///
/// #[spool::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn on_two_workers() -> Result<(), spool::JoinError> {
///     assert_eq!(spool::spawn(async { 7 }).await?, 7);
///     Ok(())
/// }
/// # fn main() {} // (the tests run under `cargo test`; here they only compile)
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into(), Kind::Test).into()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "#[spool::main]",
            Kind::Test => "#[spool::test]",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

/// The checked arguments.
struct Config {
    flavor: Flavor,
    worker_threads: Option<(usize, Span)>,
    start_paused: Option<(bool, Span)>,
}

fn expand(args: TokenStream2, item: TokenStream2, kind: Kind) -> TokenStream2 {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        // Not a function: let the compiler say so, with our note.
        Err(err) => {
            let message = format!("{} applies to an `async fn`: {err}", kind.name());
            let err = syn::Error::new(err.span(), message).to_compile_error();
            return quote! { #err #item };
        }
    };
    match parse_config(args, kind).and_then(|config| build(function.clone(), config, kind)) {
        Ok(tokens) => tokens,
        Err(err) => {
            // The error, plus the function made plain, so that no second error ("main is
            // async", "no main function") buries the first.
            let err = err.to_compile_error();
            let mut plain = function;
            plain.sig.asyncness = None;
            let sig = &plain.sig;
            let attrs = &plain.attrs;
            let vis = &plain.vis;
            quote! { #err #(#attrs)* #vis #sig { ::core::unimplemented!() } }
        }
    }
}

fn parse_config(args: TokenStream2, kind: Kind) -> syn::Result<Config> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut flavor: Option<(Flavor, Span)> = None;
    let mut worker_threads = None;
    let mut start_paused = None;
    for meta in metas {
        let name_value = match meta {
            Meta::NameValue(name_value) => name_value,
            other => {
                let name = path_name(other.path());
                return Err(syn::Error::new_spanned(
                    &other,
                    format!("{}: unknown argument `{name}`; expected `flavor = \"…\"`, `worker_threads = N` or `start_paused = true`", kind.name()),
                ));
            }
        };
        let name = path_name(&name_value.path);
        let span = name_value.span();
        let duplicate = || {
            syn::Error::new(
                span,
                format!("{}: the argument `{name}` is given twice", kind.name()),
            )
        };
        match name.as_str() {
            "flavor" => {
                if flavor.is_some() {
                    return Err(duplicate());
                }
                let value = string_literal(&name_value.value).ok_or_else(|| {
                    syn::Error::new_spanned(
                        &name_value.value,
                        "`flavor` must be \"current_thread\" or \"multi_thread\"",
                    )
                })?;
                let parsed = match value.as_str() {
                    "current_thread" => Flavor::CurrentThread,
                    "multi_thread" => Flavor::MultiThread,
                    other => {
                        return Err(syn::Error::new_spanned(
                            &name_value.value,
                            format!("`flavor` must be \"current_thread\" or \"multi_thread\", not \"{other}\""),
                        ))
                    }
                };
                flavor = Some((parsed, span));
            }
            "worker_threads" => {
                if worker_threads.is_some() {
                    return Err(duplicate());
                }
                let n = int_literal(&name_value.value).filter(|&n| n > 0).ok_or_else(|| {
                    syn::Error::new_spanned(
                        &name_value.value,
                        "`worker_threads` must be a positive integer literal",
                    )
                })?;
                worker_threads = Some((n, span));
            }
            "start_paused" => {
                if start_paused.is_some() {
                    return Err(duplicate());
                }
                let paused = bool_literal(&name_value.value).ok_or_else(|| {
                    syn::Error::new_spanned(&name_value.value, "`start_paused` must be `true` or `false`")
                })?;
                start_paused = Some((paused, span));
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    &name_value.path,
                    format!("{}: unknown argument `{name}`; expected `flavor`, `worker_threads` or `start_paused`", kind.name()),
                ))
            }
        }
    }
    let default = match kind {
        Kind::Main => Flavor::MultiThread,
        Kind::Test => Flavor::CurrentThread,
    };
    let flavor_given = flavor.is_some();
    let flavor = flavor.map_or(default, |(flavor, _)| flavor);
    if let (Flavor::CurrentThread, Some((_, span))) = (flavor, worker_threads) {
        let how = if flavor_given {
            "with `flavor = \"current_thread\"`"
        } else {
            "on #[spool::test]'s default current-thread runtime; add `flavor = \"multi_thread\"`"
        };
        return Err(syn::Error::new(
            span,
            format!("`worker_threads` cannot be set {how}"),
        ));
    }
    if let (Flavor::MultiThread, Some((true, span))) = (flavor, start_paused) {
        return Err(syn::Error::new(
            span,
            "`start_paused = true` needs `flavor = \"current_thread\"` (only a current-thread runtime can pause its clock)",
        ));
    }
    Ok(Config {
        flavor,
        worker_threads,
        start_paused,
    })
}

fn build(mut function: ItemFn, config: Config, kind: Kind) -> syn::Result<TokenStream2> {
    if function.sig.asyncness.take().is_none() {
        return Err(syn::Error::new_spanned(
            function.sig.fn_token,
            format!(
                "{} needs an `async fn`: the `async` keyword is missing",
                kind.name()
            ),
        ));
    }
    if kind == Kind::Test && !function.sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &function.sig.inputs,
            "#[spool::test]: a test function takes no arguments",
        ));
    }
    let output = match &function.sig.output {
        syn::ReturnType::Default => quote! { () },
        syn::ReturnType::Type(_, ty) => quote! { #ty },
    };
    let mut builder = match config.flavor {
        Flavor::CurrentThread => quote! { ::spool::Builder::new_current_thread() },
        Flavor::MultiThread => quote! { ::spool::Builder::new_multi_thread() },
    };
    if let Some((n, _)) = config.worker_threads {
        builder = quote! { #builder.worker_threads(#n) };
    }
    if let Some((true, _)) = config.start_paused {
        builder = quote! { #builder.start_paused(true) };
    }
    let body = &function.block;
    let span = body.span();
    let new_body = quote_spanned! {span=>
        {
            let body = async move #body;
            let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = #output>> =
                ::core::pin::pin!(body);
            #builder
                .build()
                .expect("spool: failed to build the runtime")
                .block_on(body)
        }
    };
    function.block = syn::parse2(new_body)?;
    let test_attr = match kind {
        Kind::Test => quote! { #[::core::prelude::v1::test] },
        Kind::Main => quote! {},
    };
    Ok(quote! { #test_attr #function })
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

fn int_literal(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse().ok(),
        _ => None,
    }
}

fn bool_literal(expr: &Expr) -> Option<bool> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(b.value),
        _ => None,
    }
}
