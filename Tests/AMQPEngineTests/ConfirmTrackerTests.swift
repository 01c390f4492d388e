import Testing
@testable import AMQPEngine
@testable import AMQPWire

/// A channel's publisher confirms as a value: sequences issued in order, confirmed one by one or
/// up to a tag, waits completed once what they cover is settled.
@Suite struct ConfirmTrackerTests {
    @Test func singleAndMultipleConfirmsInAnyOrder() {
        var tracker = ConfirmTracker()
        #expect((1...10).map { _ in tracker.issue() } == Array(1...10))
        #expect(tracker.confirm(5, multiple: false) == 1)   // out of order
        #expect(tracker.confirm(5, multiple: false) == 0)   // twice: nothing more
        #expect(tracker.confirm(42, multiple: false) == 0)  // never issued
        #expect(tracker.lowestUnconfirmed == 1 && tracker.unconfirmedCount == 9)
        #expect(tracker.confirm(3, multiple: true) == 3)    // 1, 2, 3
        #expect(tracker.settled(upTo: 3) && !tracker.settled(upTo: 4))
        #expect(tracker.confirm(6, multiple: true) == 2)    // 4 and 6 (5 was already confirmed)
        #expect(tracker.lowestUnconfirmed == 7 && tracker.highestUnconfirmed == 10)
        #expect(tracker.confirm(10, multiple: true) == 4)
        #expect(tracker.unconfirmedCount == 0 && tracker.settled(upTo: .max))
    }

    @Test func waitsCompleteWhenTheirPublishesAreSettledAndReportANack() {
        var tracker = ConfirmTracker()
        for _ in 1...4 { _ = tracker.issue() }
        tracker.waiters.append((id: 7, upTo: 2))
        tracker.waiters.append((id: 8, upTo: 4))
        var out = EngineOutput()
        _ = tracker.confirm(2, multiple: true)
        tracker.completeSettledWaiters(channel: 1, into: &out)
        guard case .completion(7, 1, .success) = out.events.first, out.events.count == 1 else {
            Issue.record("wait 7 not completed alone: \(out.events)")
            return
        }
        tracker.nackedSinceWait = true // a nack of 3
        _ = tracker.confirm(4, multiple: true)
        out.events.removeAll()
        tracker.completeSettledWaiters(channel: 1, into: &out)
        guard case .completion(8, 1, .failure(let error)) = out.events.first else {
            Issue.record("wait 8 did not report the nack: \(out.events)")
            return
        }
        #expect(error.kind == .nacked)
        #expect(tracker.waiters.isEmpty && !tracker.nackedSinceWait)
    }

    @Test func afterALossOurSequencesContinueOverTheBrokersNewOnes() {
        var tracker = ConfirmTracker()
        for _ in 1...3 { _ = tracker.issue() }
        tracker.resetAfterLoss()
        #expect(tracker.unconfirmedCount == 0 && tracker.brokerOffset == 3)
        #expect(tracker.issue() == 4) // the broker calls it 1 on the new connection
    }

    @Test func aLongBacklogConfirmedInOrderStaysSmall() {
        var tracker = ConfirmTracker()
        for _ in 0..<20_000 { _ = tracker.issue() }
        for tag in stride(from: UInt64(1), through: 19_999, by: 1) { #expect(tracker.confirm(tag, multiple: false) == 1) }
        #expect(tracker.unconfirmedCount == 1 && tracker.lowestUnconfirmed == 20_000)
        #expect(tracker.confirm(20_000, multiple: false) == 1 && tracker.unconfirmedCount == 0)
    }
}
