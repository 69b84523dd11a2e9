//! Gravitational n-body simulation: 16 bodies with random positions,
//! velocities and masses (softened gravity, symplectic Euler steps), `n`
//! steps; the checksum folds in the total energy at the end.

use crate::{Rng, mix};

const K: usize = 16;
const DT: f64 = 0.001;
/// Softening: keeps close encounters finite.
const EPS2: f64 = 0.01;

struct Bodies {
    pos: [[f64; 3]; K],
    vel: [[f64; 3]; K],
    mass: [f64; K],
}

impl Bodies {
    fn new(rng: &mut Rng) -> Bodies {
        let mut b = Bodies {
            pos: [[0.0; 3]; K],
            vel: [[0.0; 3]; K],
            mass: [0.0; K],
        };
        for i in 0..K {
            for d in 0..3 {
                b.pos[i][d] = 10.0 * rng.signed_unit();
                b.vel[i][d] = 0.5 * rng.signed_unit();
            }
            b.mass[i] = 1.0 + rng.signed_unit() * 0.5;
        }
        b
    }

    fn step(&mut self) {
        for i in 0..K {
            for j in i + 1..K {
                let dx = self.pos[i][0] - self.pos[j][0];
                let dy = self.pos[i][1] - self.pos[j][1];
                let dz = self.pos[i][2] - self.pos[j][2];
                let d2 = dx * dx + dy * dy + dz * dz + EPS2;
                let f = DT / (d2 * d2.sqrt());
                let (fi, fj) = (f * self.mass[j], f * self.mass[i]);
                self.vel[i][0] -= dx * fi;
                self.vel[i][1] -= dy * fi;
                self.vel[i][2] -= dz * fi;
                self.vel[j][0] += dx * fj;
                self.vel[j][1] += dy * fj;
                self.vel[j][2] += dz * fj;
            }
        }
        for (p, v) in self.pos.iter_mut().zip(&self.vel) {
            for d in 0..3 {
                p[d] += DT * v[d];
            }
        }
    }

    fn energy(&self) -> f64 {
        let mut e = 0.0;
        for i in 0..K {
            let v = &self.vel[i];
            e += 0.5 * self.mass[i] * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
            for j in i + 1..K {
                let d: Vec<f64> = (0..3).map(|k| self.pos[i][k] - self.pos[j][k]).collect();
                let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + EPS2).sqrt();
                e -= self.mass[i] * self.mass[j] / r;
            }
        }
        e
    }
}

pub fn run(n: i32) -> i64 {
    let mut rng = Rng::new(0x5a5a_0009);
    let mut b = Bodies::new(&mut rng);
    let mut h = 0u64;
    for s in 0..n.max(0) {
        b.step();
        if s % 1024 == 0 {
            h = mix(h, b.pos[0][0].to_bits());
        }
    }
    h = mix(h, b.energy().to_bits());
    h = mix(h, b.pos[K - 1][2].to_bits());
    h as i64
}
