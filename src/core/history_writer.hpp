#pragma once
// Batches history appends on one thread. Publishers enqueue (under the LocalBroker's channel
// lock, so a channel's entries arrive in offset order); the writer thread takes everything queued, appends
// it in one transaction, then hands the batch back through `on_done` in the same order. Under
// load batches grow by themselves: the more publishers wait, the more one commit carries.
#include <boost/asio/any_io_executor.hpp>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/history.hpp"

namespace sb::core {

// A publication on its way to the store, and where its publisher waits for the result.
struct PendingPublication {
  HistoryEntry entry;
  boost::asio::any_io_executor where;
  std::function<void(Result<StreamPosition>)> done;
};

class HistoryWriter {
 public:
  // on_done runs on the writer thread with the batch, its entries (moved out of the batch, same
  // order) and the result of the append.
  using OnDone = std::function<void(std::vector<PendingPublication>& batch, const std::vector<HistoryEntry>& entries,
                                    const Status& status)>;
  HistoryWriter(HistoryStore& store, OnDone on_done);
  // Appends what is still queued, then stops the thread.
  ~HistoryWriter();

  void enqueue(PendingPublication publication);  // any thread

 private:
  void run();

  HistoryStore& store_;
  OnDone on_done_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<PendingPublication> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sb::core
