//! The translator's value stack and control stack.
//!
//! WebAssembly's operand stack becomes a stack of SSA values; structured
//! control flow becomes Cranelift blocks, with block parameters carrying the
//! values that flow out of (or, for loops, back into) a construct. Code after
//! an unconditional branch is unreachable: the translator then only counts
//! nested constructs ([`ControlStack::dead_depth`]) until it reaches an `else`
//! or `end` that makes code reachable again.

use cranelift_codegen::ir::{Block, Value};

/// What kind of construct a frame is.
#[derive(Clone, Debug)]
pub enum FrameKind {
    /// A `block`, or the function body itself.
    Block,
    /// A `loop`; branches go back to `header`.
    Loop { header: Block },
    /// An `if`. `else_block` runs when the condition is false;
    /// `params` are the values the construct started with (both arms begin
    /// with them). `has_else` is set once `else` was seen.
    If {
        else_block: Block,
        params: Vec<Value>,
        has_else: bool,
    },
}

/// One entry of the control stack.
#[derive(Clone, Debug)]
pub struct ControlFrame {
    pub kind: FrameKind,
    /// Where control continues after `end`; its parameters are the results.
    pub next: Block,
    /// Value-stack height below the construct's parameters.
    pub height: usize,
    pub num_params: usize,
    pub num_results: usize,
    /// Whether anything jumps to `next` (a branch or falling off the end).
    pub next_reachable: bool,
    /// [`crate::bounds::Checks::mark`] when the construct opened: checks
    /// made inside it are forgotten at its `else` and `end`, except those a
    /// `block`'s `end` keeps (`branch_mark`).
    pub checks_mark: usize,
    /// [`crate::bounds::Checks::mark`] when the first branch to `next` was
    /// translated (`None`: none yet). A `block`'s `end` is reached only by
    /// falling through its body or by such branches, so the checks made in
    /// the body before this point (outside nested constructs, which forget
    /// their own) hold on every path to `end` and are kept there.
    pub branch_mark: Option<usize>,
}

impl ControlFrame {
    /// The block a branch to this frame goes to and how many values it
    /// carries.
    pub fn branch_target(&self) -> (Block, usize) {
        match self.kind {
            FrameKind::Loop { header } => (header, self.num_params),
            _ => (self.next, self.num_results),
        }
    }

    pub fn is_loop(&self) -> bool {
        matches!(self.kind, FrameKind::Loop { .. })
    }
}

/// The control stack plus the bookkeeping for unreachable code.
#[derive(Default)]
pub struct ControlStack {
    pub frames: Vec<ControlFrame>,
    /// Constructs opened while the code was unreachable; their `end`s are
    /// skipped.
    pub dead_depth: u32,
}

impl ControlStack {
    /// The frame `depth` levels out (0 = innermost).
    pub fn frame(&self, depth: u32) -> &ControlFrame {
        &self.frames[self.frames.len() - 1 - depth as usize]
    }

    pub fn frame_mut(&mut self, depth: u32) -> &mut ControlFrame {
        let n = self.frames.len();
        &mut self.frames[n - 1 - depth as usize]
    }

    /// Whether a branch to the frame `depth` levels out leaves a loop.
    pub fn leaves_loop(&self, depth: u32) -> bool {
        let n = self.frames.len();
        self.frames[n - depth as usize..]
            .iter()
            .any(|f| f.is_loop())
    }
}

/// The operand stack.
#[derive(Default)]
pub struct ValueStack {
    pub values: Vec<Value>,
}

impl ValueStack {
    pub fn push(&mut self, v: Value) {
        self.values.push(v);
    }

    pub fn pop(&mut self) -> Value {
        self.values
            .pop()
            .expect("operand stack underflow in validated code")
    }

    pub fn pop2(&mut self) -> (Value, Value) {
        let b = self.pop();
        let a = self.pop();
        (a, b)
    }

    pub fn pop3(&mut self) -> (Value, Value, Value) {
        let c = self.pop();
        let (a, b) = self.pop2();
        (a, b, c)
    }

    pub fn peek(&self) -> Value {
        *self
            .values
            .last()
            .expect("operand stack underflow in validated code")
    }

    /// The top `n` values, bottom first.
    pub fn top(&self, n: usize) -> &[Value] {
        &self.values[self.values.len() - n..]
    }

    /// Remove and return the top `n` values, bottom first.
    pub fn pop_n(&mut self, n: usize) -> Vec<Value> {
        let at = self.values.len() - n;
        self.values.split_off(at)
    }

    pub fn truncate(&mut self, height: usize) {
        self.values.truncate(height);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}
