/*
 * A tiny fork-join thread pool: nn_pool_run(fn, ctx, tasks) runs
 * fn(ctx, 0..tasks-1) on the caller plus (threads-1) workers and returns
 * when all tasks are done. Tasks are claimed from one atomic ticket that
 * holds (job generation << 32 | next task), so a late worker can never claim
 * a task of a newer job by mistake.
 * Workers spin for a few milliseconds after a job (ops come in quick
 * succession), then sleep on a condition variable. No allocation per run.
 */
#include <sched.h>
#include <stdlib.h>

#include "nn/internal.h"

/* Workers spin this long after a job before sleeping: ops follow each other
 * within microseconds to a few milliseconds, and a futex wake-up costs more
 * than the small ops themselves. */
#define SPIN_NS 5000000ull

struct nn_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint_fast64_t ticket; /* generation << 32 | next task */
    atomic_bool stop;
    atomic_bool parked; /* nn_pool_park: sleep now, do not spin */
    nn_task_fn fn;
    void *ctx;
    atomic_size_t tasks;
    atomic_size_t done;   /* tasks finished */
    atomic_int sleepers;
};

static void drain(struct nn_pool *p, uint64_t gen)
{
    for (;;) {
        uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
        if ((t >> 32) != gen)
            return;
        size_t idx = (size_t)(t & 0xffffffffu);
        if (idx >= atomic_load_explicit(&p->tasks, memory_order_relaxed))
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        p->fn(p->ctx, idx);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

static uint64_t gen_of(struct nn_pool *p)
{
    return atomic_load_explicit(&p->ticket, memory_order_acquire) >> 32;
}

static void *worker(void *arg)
{
    struct nn_pool *p = arg;
    uint64_t seen = gen_of(p);
    for (;;) {
        uint64_t g, start = ccc_now_ns();
        unsigned spins = 0;
        while ((g = gen_of(p)) == seen && !atomic_load(&p->stop)) {
            __builtin_ia32_pause();
            if ((++spins & 255) == 0) {
                if (ccc_now_ns() - start > SPIN_NS || atomic_load(&p->parked))
                    break;
                sched_yield(); /* let a runnable thread on this CPU go first */
            }
        }
        if (g == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->ticket) >> 32) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        drain(p, g);
    }
}

ccc_status nn_pool_new(int threads, struct nn_pool **out)
{
    struct nn_pool *p = calloc(1, sizeof *p);
    CCC_ENSURE(p != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    p->threads = threads < 1 ? 1 : threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->ticket, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->parked, false);
    atomic_init(&p->tasks, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->sleepers, 0);
    if (p->threads > 1) {
        p->tids = calloc((size_t)p->threads - 1, sizeof *p->tids);
        if (p->tids == NULL) {
            free(p);
            CCC_BAIL(CCC_ERR_NOMEM, "nn: out of memory");
        }
        for (int i = 0; i < p->threads - 1; i++) {
            if (pthread_create(&p->tids[i], NULL, worker, p) != 0) {
                p->threads = i + 1;
                nn_pool_free(p);
                CCC_BAIL(CCC_ERR_INTERNAL, "nn: cannot start worker thread");
            }
        }
    }
    *out = p;
    return CCC_OK;
}

void nn_pool_free(struct nn_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->threads - 1; i++)
        pthread_join(p->tids[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->tids);
    free(p);
}

void nn_pool_run(struct nn_pool *p, nn_task_fn fn, void *ctx, size_t tasks)
{
    if (p->threads <= 1 || tasks <= 1) {
        for (size_t t = 0; t < tasks; t++)
            fn(ctx, t);
        return;
    }
    atomic_store(&p->parked, false);
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->tasks, tasks);
    atomic_store(&p->done, 0);
    uint64_t gen = (gen_of(p) + 1) & 0xffffffffu;
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        atomic_store_explicit(&p->ticket, gen << 32, memory_order_release);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    } else {
        atomic_store(&p->ticket, gen << 32); /* seq_cst: pairs with sleepers++ */
    }
    drain(p, gen);
    unsigned spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < tasks) {
        __builtin_ia32_pause();
        if ((++spins & 255) == 0)
            sched_yield(); /* a preempted worker may be waiting for this CPU */
    }
}

void nn_pool_park(struct nn_pool *p)
{
    if (p)
        atomic_store(&p->parked, true);
}
